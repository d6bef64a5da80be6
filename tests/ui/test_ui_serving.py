"""The API serves the web UI's build at `/` with a CSP that allows no inline script, answers
client-side routes with index.html, never serves a file outside the build, keeps API paths out
of the catch-all, and falls back to the landing page when there is no build."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sentimentops.app import schema
from sentimentops.app.api import create_app
from sentimentops.app.ui import CONTENT_SECURITY_POLICY
from sentimentops.core.settings import Settings

INDEX = (
    '<!doctype html><div id="root"></div><script type="module" src="/assets/app-1a2b.js"></script>'
)
BUNDLE = "console.log('bundle');"


def _client(tmp_path: Path, dist: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data", serving_tasks=[], ui_dist_dir=dist, _env_file=None
    )
    schema.upgrade(settings.resolved_database_url)
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    folder = tmp_path / "dist"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text(INDEX)
    (folder / "assets" / "app-1a2b.js").write_text(BUNDLE)
    (folder / "favicon.svg").write_text("<svg/>")
    return folder


@pytest.fixture
def built(tmp_path: Path, dist: Path) -> Iterator[TestClient]:
    yield from _client(tmp_path, dist)


@pytest.fixture
def unbuilt(tmp_path: Path) -> Iterator[TestClient]:
    yield from _client(tmp_path, tmp_path / "no-build-here")


def test_csp_allows_no_inline_script() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in directives["script-src"]
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"


def test_build_is_served_at_root_with_csp(built: TestClient) -> None:
    page = built.get("/")
    assert page.status_code == 200
    assert page.text == INDEX
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["cache-control"] == "no-cache"
    assert page.headers["x-content-type-options"] == "nosniff"


def test_hashed_assets_are_cached_for_good(built: TestClient) -> None:
    bundle = built.get("/assets/app-1a2b.js")
    assert bundle.status_code == 200
    assert bundle.text == BUNDLE
    assert "javascript" in bundle.headers["content-type"]
    assert "immutable" in bundle.headers["cache-control"]
    icon = built.get("/favicon.svg")
    assert icon.status_code == 200
    assert icon.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("route", ["/playground", "/plans/plan-0123", "/approvals?status=all"])
def test_client_side_routes_get_the_app(built: TestClient, route: str) -> None:
    page = built.get(route)
    assert page.status_code == 200
    assert page.text == INDEX
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_missing_file_is_404_not_the_app(built: TestClient) -> None:
    response = built.get("/assets/app-old.js")
    assert response.status_code == 404
    assert response.json()["error"] == "NotFound"


def test_hidden_files_are_not_served(built: TestClient, dist: Path) -> None:
    (dist / ".vite").mkdir()
    (dist / ".vite" / "manifest.json").write_text("{}")
    assert built.get("/.vite/manifest.json").status_code == 404


def test_nothing_outside_the_build_is_served(built: TestClient, tmp_path: Path, dist: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    (dist / "leak.txt").symlink_to(secret)
    assert built.get("/leak.txt").status_code == 404
    escapes = [
        "/assets/..%2f..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
    ]
    for path in escapes:
        response = built.get(path)
        assert "do not serve" not in response.text, path


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_api_paths_stay_out_of_the_catch_all(built: TestClient, method: str) -> None:
    response = built.request(method, "/api/v1/no-such-route")
    assert response.status_code == 404
    assert response.json()["error"] == "NotFound"
    assert built.request(method, "/.well-known/nothing").status_code == 404


def test_api_routes_still_answer(built: TestClient) -> None:
    assert built.get("/healthz").json() == {"status": "ok"}
    assert built.get("/openapi.json").json()["info"]["title"] == "SentimentOps"
    # A wrong method on a real route is still 405, not the UI.
    assert built.delete("/api/v1/version").status_code == 405


def test_without_a_build_root_is_the_landing_page(unbuilt: TestClient) -> None:
    page = unbuilt.get("/")
    assert page.status_code == 200
    assert "SentimentOps" in page.text
    assert "/docs" in page.text
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    # No build: client-side routes do not exist.
    assert unbuilt.get("/playground").status_code == 404


def test_a_build_made_while_running_is_served(tmp_path: Path, unbuilt: TestClient) -> None:
    assert 'id="root"' not in unbuilt.get("/").text
    dist = tmp_path / "no-build-here"
    dist.mkdir()
    (dist / "index.html").write_text(INDEX)
    assert unbuilt.get("/").text == INDEX
