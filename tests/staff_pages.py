"""What the tests of the staff pages (tests/staff/test_console_page.py, test_staff_pages.py) check
alike: the start tags of a page, and the headers every staff page is served with."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from fastapi.testclient import TestClient

# What builds markup from strings: the pages' scripts put data in as text only.
MARKUP_FROM_STRINGS = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|Function\(")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def assert_page_headers(client: TestClient, page: str) -> None:
    """/<page>/ is HTML with the web chat's headers and a policy no other origin may frame it
    under; HEAD answers too, and /<page> moves to /<page>/."""
    response = client.get(f"/{page}/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy and "localhost" not in policy  # no agency site frames it
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert client.head(f"/{page}/").status_code == 200
    moved = client.get(f"/{page}", follow_redirects=False)
    assert moved.status_code == 308 and moved.headers["location"] == f"/{page}/"
