"""The agency portal and the dashboard (staff/api/pages.py), and what the staff pages share, served
without a database or a browser: headers, the allow-listed assets, Chart.js shipped with the page,
no markup built from strings, the names the pages are given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from staff_pages import MARKUP_FROM_STRINGS, assert_page_headers, tags

from contract.replies import TOPIC_LABELS
from staff.api.pages import PAGES, SHARED, STATIC_ROOT, pages_router, seed_services

NEW_PAGES = ("agency", "dashboard")
SCRIPTS = {
    "agency": ["/staff/static/staff.js", "/agency/static/agency.js"],
    "dashboard": [
        "/staff/static/chart.umd.min.js",
        "/staff/static/staff.js",
        "/dashboard/static/dashboard.js",
    ],
}


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(pages_router())
    return TestClient(app)


@pytest.mark.parametrize("page", NEW_PAGES)
def test_the_pages_have_the_consoles_headers(client: TestClient, page: str) -> None:
    assert_page_headers(client, page)


@pytest.mark.parametrize("page", NEW_PAGES)
def test_scripts_are_files_of_its_own_origin_only(client: TestClient, page: str) -> None:
    found = tags(client.get(f"/{page}/").text)
    scripts = [attrs for tag, attrs in found if tag == "script"]
    assert scripts == [{"src": src, "defer": None} for src in SCRIPTS[page]]  # no inline script, no CDN
    for tag, attrs in found:
        assert not any(name.startswith("on") for name in attrs), f"inline handler on <{tag}>"
        assert "style" not in attrs, f"inline style on <{tag}>"
    links = [attrs["href"] for tag, attrs in found if tag == "link" and attrs.get("rel") == "stylesheet"]
    assert links == ["/staff/static/staff.css", f"/{page}/static/{page}.css"]
    for src in [*SCRIPTS[page], *links]:
        assert client.get(src).status_code == 200, src


@pytest.mark.parametrize("page", NEW_PAGES)
def test_the_names_come_with_the_page(client: TestClient, page: str) -> None:
    body = next(attrs for tag, attrs in tags(client.get(f"/{page}/").text) if tag == "body")
    assert json.loads(body["data-topics"] or "") == TOPIC_LABELS
    services = json.loads(body["data-services"] or "")
    assert services["passport"] == {"name": "หนังสือเดินทาง (พาสปอร์ต)", "agency": "consular"}
    agencies = json.loads(body["data-agencies"] or "")
    assert agencies["dlt"] == "กรมการขนส่งทางบก" and set(agencies) == {s["agency"] for s in services.values()}
    assert "{{" not in client.get(f"/{page}/").text


def test_seed_services_read_every_record() -> None:
    services, agencies = seed_services()
    seeds = list((Path(__file__).resolve().parents[2] / "catalog" / "seed").glob("*.json"))
    assert len(services) == len(seeds) and all(
        s["name"] and s["agency"] in agencies for s in services.values()
    )


def test_chart_js_is_shipped_with_its_licence(client: TestClient) -> None:
    response = client.get("/staff/static/chart.umd.min.js")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/javascript")
    assert response.text.startswith("/*!\n * Chart.js v4.")
    licence = (STATIC_ROOT / "vendor" / "chart.js-LICENSE.md").read_text(encoding="utf-8")
    assert "MIT" in licence and "Chart.js Contributors" in licence


@pytest.mark.parametrize(
    "path",
    ["/staff/static/chart.js-LICENSE.md", "/staff/static/../api/pages.py", "/staff/static/..%2Fvendor",
     "/agency/static/agent.js", "/dashboard/static/index.html", "/agency/static/dashboard.js"],
)  # fmt: skip
def test_only_the_listed_assets_are_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_every_listed_asset_exists() -> None:
    for page, assets in PAGES.items():
        for name in assets:
            assert (STATIC_ROOT / page / name).is_file(), f"{page}/{name}"
    for path, _ in SHARED.values():
        assert path.is_file(), path


@pytest.mark.parametrize(
    "script",
    [
        STATIC_ROOT / "common" / "staff.js",
        STATIC_ROOT / "agency" / "agency.js",
        STATIC_ROOT / "dashboard" / "dashboard.js",
    ],
    ids=lambda p: p.name,
)
def test_data_goes_into_the_pages_as_text_only(script: Path) -> None:
    assert not MARKUP_FROM_STRINGS.search(script.read_text(encoding="utf-8"))
