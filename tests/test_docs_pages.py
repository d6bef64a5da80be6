"""/docs and /redoc work offline: every script, style and icon they reference is served by the
API itself, none by a CDN."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sentimentops.app.api import create_app
from sentimentops.core.settings import Settings

_REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""")
_SPEC_URL = re.compile(r"""spec-url\s*=\s*["']([^"']+)["']""")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, serving_tasks=[], _env_file=None)
    with TestClient(create_app(settings)) as c:
        yield c


def _references(html: str) -> list[str]:
    found = [a or b for a, b in _REFERENCES.findall(html)]
    return found + _SPEC_URL.findall(html)


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png", "openapi.json"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png", "openapi.json"}),
    ],
)
def test_reference_pages_load_nothing_from_other_hosts(
    client: TestClient, page: str, expected: set[str]
) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    # No absolute or scheme-relative URL anywhere in the page: nothing leaves this server.
    assert not re.search(r"https?://|(?:src|href)=[\"']//", response.text), response.text
    references = _references(response.text)
    assert {url.rsplit("/", 1)[-1] for url in references} == expected
    for url in references:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url


def test_swagger_ui_does_not_call_the_public_validator(client: TestClient) -> None:
    assert '"validatorUrl": null' in client.get("/docs").text


def test_the_pages_are_not_api_operations(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not {p for p in paths if p.startswith(("/docs", "/redoc", "/static"))}
