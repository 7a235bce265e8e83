"""The seed records: valid, sourced, and consistent with the shared service list."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

pytest.importorskip("pydantic", minversion="2", reason="catalog tests run in the services env")

from support import REPO_ROOT, services_python

from catalog.models import SEED_DIR, ServiceRecord, load_record

SPEC_DIR = REPO_ROOT.parent / "shared" / "spec"
SEED_FILES = sorted(SEED_DIR.glob("*.json"))
WELFARE_IDS = {
    "elderly-allowance", "disability-allowance", "disability-card", "child-support-grant",
    "state-welfare-card", "social-security-39", "social-security-40", "unemployment-benefit",
    "gold-card", "student-loan",
}  # fmt: skip


def _spec_services() -> dict[str, dict[str, str]]:
    path = SPEC_DIR / "services.tsv"
    if not path.exists():
        pytest.skip(f"shared spec not found at {path}")
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["service_id"]: row for row in csv.DictReader(handle, delimiter="\t")}


def _seed(service_id: str) -> ServiceRecord:
    return load_record(SEED_DIR / f"{service_id}.json")


def _published_numbers() -> set[float]:
    path = SPEC_DIR / "facts.md"
    if not path.exists():
        pytest.skip(f"shared spec not found at {path}")
    text = path.read_text(encoding="utf-8")
    return {float(number.replace(",", "")) for number in re.findall(r"\d[\d,]*(?:\.\d+)?", text)}


def test_seed_dir_is_not_empty() -> None:
    assert SEED_FILES, f"no seed files in {SEED_DIR}"


@pytest.mark.parametrize("path", SEED_FILES, ids=[p.stem for p in SEED_FILES])
def test_seed_file_validates(path: Path) -> None:
    record = load_record(path)
    assert record.id == path.stem


@pytest.mark.parametrize("path", SEED_FILES, ids=[p.stem for p in SEED_FILES])
def test_seed_has_source_and_date(path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw.get("source_url", "").startswith("https://"), "source_url must be the agency's https page"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.get("updated", "")), "updated must be an ISO date"


def test_seed_ids_equal_spec_ids() -> None:
    # Fails until every helper has written its seeds; the message says which are missing or extra.
    spec_ids = set(_spec_services())
    seed_ids = {path.stem for path in SEED_FILES}
    assert seed_ids == spec_ids, (
        f"missing: {sorted(spec_ids - seed_ids)}, extra: {sorted(seed_ids - spec_ids)}"
    )


@pytest.mark.parametrize("path", SEED_FILES, ids=[p.stem for p in SEED_FILES])
def test_seed_matches_spec_row(path: Path) -> None:
    spec = _spec_services().get(path.stem)
    if spec is None:
        pytest.fail(f"{path.stem} is not in services.tsv")
    record = load_record(path)
    assert record.category == spec["category"]
    assert record.contact.hotline == spec["hotline"]


@pytest.mark.parametrize("path", SEED_FILES, ids=[p.stem for p in SEED_FILES])
def test_amounts_are_published_figures(path: Path) -> None:
    # A cheap guard against invented fees: every baht amount must occur somewhere in facts.md.
    published = _published_numbers() | {0.0}
    record = load_record(path)
    unknown = [
        line.amount
        for line in [*record.fees, *record.benefits]
        if line.amount is not None and float(line.amount) not in published
    ]
    assert not unknown, f"amounts not found in facts.md: {unknown}"


@pytest.mark.parametrize("path", SEED_FILES, ids=[p.stem for p in SEED_FILES])
def test_synonyms_are_unique(path: Path) -> None:
    synonyms = load_record(path).synonyms
    duplicates = sorted({s for s in synonyms if synonyms.count(s) > 1})
    assert not duplicates


@pytest.mark.parametrize(
    ("service_id", "typed"),
    [
        ("elderly-allowance", ["เบี้ยคนแก่", "เงินคนชรา"]),
        ("state-welfare-card", ["บัตรคนจน", "บัตรสวัสดิกาน"]),
        ("gold-card", ["บัตรทอง"]),
        ("child-support-grant", ["เงินเด็กแรกเกิด"]),
        ("unemployment-benefit", ["เงินว่างงาน", "unemployment"]),
        ("student-loan", ["กยศ"]),
        ("social-security-39", ["ม.39", "ม 39", "มาตรา39"]),
        ("social-security-40", ["ม.40"]),
    ],
)
def test_welfare_synonyms_cover_what_citizens_type(service_id: str, typed: list[str]) -> None:
    synonyms = set(_seed(service_id).synonyms)
    assert set(typed) <= synonyms


def test_welfare_seeds_are_welfare() -> None:
    for service_id in WELFARE_IDS:
        assert _seed(service_id).category == "welfare", service_id


def test_elderly_allowance_bands_cover_every_age_from_60() -> None:
    benefits = _seed("elderly-allowance").benefits
    bands = sorted((b.applies_to.age_min, b.applies_to.age_max, b.amount) for b in benefits)
    assert bands == [(60, 69, 600), (70, 79, 700), (80, 89, 800), (90, None, 1000)]


def test_invalid_seed_names_file_and_field(tmp_path: Path) -> None:
    import subprocess

    record = json.loads((SEED_DIR / "elderly-allowance.json").read_text(encoding="utf-8"))
    record["benefits"][0]["applies_to"] = {"age_minimum": 60}
    del record["source_url"]
    bad = tmp_path / "elderly-allowance.json"
    bad.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    # Start the real server (not --check) so the start-up path is what refuses the seed.
    result = subprocess.run(
        [services_python(), "-m", "catalog", "--port", "1", "--seed-dir", str(tmp_path),
         "--database", f"sqlite:///{tmp_path / 'x.db'}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert str(bad) in result.stderr
    assert "benefits.0.applies_to.age_minimum" in result.stderr
    assert "source_url" in result.stderr
