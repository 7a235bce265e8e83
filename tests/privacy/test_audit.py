"""privacy.audit finds each planted value in any writing a store could hold it in, and nothing else.

Standard library only (the stores themselves are searched after `make test`, in the services'
environment): both environments run these.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest

from privacy import mask
from privacy.audit import PLANTED, WRITTEN, Findings, main, search_files


def _found(text: str) -> dict[str, int]:
    findings = Findings()
    findings.search(text, "here")
    return {name: n for name, n in findings.counts.items() if n}


@pytest.mark.parametrize(
    ("name", "text"),
    [(name, value) for name, value in PLANTED.items()]
    + [(name, written) for name, writings in WRITTEN.items() for written in writings]
    + [
        ("national_id", json.dumps({"text": "เลข ๓๗๑๐๕๐๐๒๘๖๕๑๓"})),  # JSON escapes the Thai digits
        ("national_id", "บัตร3710500286513ค่ะ"),
        ("phone", "+66863491752"),
        ("phone", "66-86-349-1752"),
        ("email", quote(PLANTED["email"])),  # in a logged URL
        ("line_user_id", PLANTED["line_user_id"].upper()),
    ],
)
def test_a_planted_value_is_found_in_any_writing(name: str, text: str) -> None:
    assert _found(f"before {text} after") == {name: 1}


@pytest.mark.parametrize(
    "text",
    [
        "137105002865130",  # longer numbers that contain the digits are other numbers
        "10863491752",
        "73625814901",
        "planted.pii@example.com",
        "",
    ],
)
def test_other_values_are_not_counted(text: str) -> None:
    assert _found(text) == {}


def test_masked_planted_values_are_not_found() -> None:
    # As the tests write them: a bare 10-digit account number is only masked after a word for one.
    context = {"national_id": "ข้อมูล", "phone": "ข้อมูล", "email": "ข้อมูล", "bank_account": "บัญชี"}
    for name, word in context.items():
        for written in (PLANTED[name], *WRITTEN[name]):
            assert _found(mask(f"{word} {written} ค่ะ")) == {}, written


def test_logs_and_sqlite_files_are_searched(tmp_path: Path) -> None:
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "gateway.log").write_text(f"INFO user said {PLANTED['phone']}\n", encoding="utf-8")
    (tmp_path / "clean.log").write_text("INFO nothing to see\n", encoding="utf-8")
    with sqlite3.connect(tmp_path / "catalog.db") as conn:
        conn.execute("CREATE TABLE q (text TEXT)")
        conn.execute("INSERT INTO q VALUES (?)", (f"mail {PLANTED['email']}",))
    (tmp_path / "notes.txt").write_text(PLANTED["email"], encoding="utf-8")  # neither a log nor SQLite
    findings = Findings()
    search_files(findings, [tmp_path])
    assert findings.counts["phone"] == 1 and findings.counts["email"] == 1 and findings.total == 2
    assert findings.searched["log files"] == 2 and findings.searched["sqlite files"] == 1


def test_an_unreachable_store_fails_the_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("TRACKER_DB_HOST", "127.0.0.1")
    monkeypatch.setenv("TRACKER_DB_PORT", "1")  # nothing listens there
    pytest.importorskip("psycopg")
    assert main(["--files", "/nonexistent"]) == 2
    assert "could not search every store" in capsys.readouterr().err
