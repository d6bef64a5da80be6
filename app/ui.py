"""The web UI at `/`: the React build (ui/dist, `npm run build`) as static files, with a
Content-Security-Policy that allows no inline script; without a build, the landing page.

Client-side routes (`/plans/{id}`, `/approvals`, …) are answered with the build's index.html, so
a reload or a link from Slack opens the right view. API paths are never answered here: the
catch-all's convertor does not match them, so an unknown `/api/...` path stays a 404 (and a
wrong method on one a 404, not a 405)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.convertors import Convertor, register_url_convertor

from sentimentops import __version__
from sentimentops.core.errors import NotFound
from sentimentops.core.http.deps import PUBLIC, SettingsDep
from sentimentops.core.settings import Settings

# Scripts only from this origin (Vite's build has no inline script; tests/ui checks the served
# page). Styles may be inline: MUI's emotion injects <style> elements at run time, and the landing
# page has one. No other origin is reachable from the page at all.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# index.html names the hashed bundles of the current build: always revalidated.
_NO_CACHE = {**_PAGE_HEADERS, "Cache-Control": "no-cache"}
# Vite's assets/ carry a content hash in their names: cached for good.
_IMMUTABLE = {**_PAGE_HEADERS, "Cache-Control": "public, max-age=31536000, immutable"}
# Paths that belong to the API (and Slack's events), never to the UI.
_RESERVED = ("api/", ".well-known/", "slack/")


class _UiPathConvertor(Convertor[str]):
    """Any path except the API's: the lookahead keeps `/api/...` out of the catch-all."""

    regex = "(?!" + "|".join(p.replace(".", r"\.") for p in _RESERVED) + ").+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("ui_path", _UiPathConvertor())

# Public by design: the UI's files hold no tenant data; every API call they make authenticates.
router = APIRouter(dependencies=[PUBLIC], include_in_schema=False)


def default_dist_dir() -> Path:
    """ui/dist of the checkout this module lives in (a wheel install has none: landing page)."""
    return Path(__file__).resolve().parents[1] / "ui" / "dist"


def built_ui(settings: Settings) -> Path | None:
    """The UI build folder when one is there (checked per request: building needs no restart)."""
    dist = (settings.ui_dist_dir or default_dist_dir()).resolve()
    return dist if (dist / "index.html").is_file() else None


def _index(dist: Path) -> FileResponse:
    return FileResponse(dist / "index.html", media_type="text/html", headers=_NO_CACHE)


@router.get("/", response_class=HTMLResponse, operation_id="platform-index")
def index(settings: SettingsDep) -> Response:
    dist = built_ui(settings)
    if dist is not None:
        return _index(dist)
    page = (
        resources.files("sentimentops.app")
        .joinpath("static/index.html")
        .read_text(encoding="utf-8")
    )
    return HTMLResponse(page.replace("{{version}}", __version__), headers=_PAGE_HEADERS)


@router.get("/{path:ui_path}", operation_id="platform-ui")
def ui_file(path: str, settings: SettingsDep) -> Response:
    """A file of the build, or index.html for a client-side route."""
    dist = built_ui(settings)
    if dist is None:
        raise NotFound(f"no page at /{path}")
    # Hidden files (Vite's .vite/manifest.json, editors' leftovers) are not part of the site.
    hidden = any(part.startswith(".") for part in path.split("/"))
    if not hidden and "\x00" not in path and "\\" not in path:
        candidate = (dist / path).resolve()
        # resolve() follows `..` and links: anything outside the build folder is not served.
        if candidate.is_relative_to(dist) and candidate.is_file():
            headers = _IMMUTABLE if path.startswith("assets/") else _NO_CACHE
            return FileResponse(candidate, headers=headers)
    if "." in path.rsplit("/", 1)[-1]:
        # A missing file (an old bundle's name, a typo) is a 404, not the app's page.
        raise NotFound(f"no file at /{path}")
    return _index(dist)
