"""The contributor app at /: static files bundled from web/ by esbuild at build time (no CDN),
its service worker and manifest at stable URLs, and the self-hosted PMTiles basemap."""

import json
import mimetypes
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, current_app, request, send_file, send_from_directory
from werkzeug.exceptions import NotFound

from .config import PROJECT_DIR
from .errors import ServiceUnavailable

WEB_DIST = PROJECT_DIR / "web" / "dist"
# Asset names carry a hash of their content: a browser may keep them for good.
ASSET_MAX_AGE = 365 * 24 * 3600
# The build writes a brotli and a gzip copy beside each asset; the best one accepted is sent.
PRECOMPRESSED = (("br", ".br"), ("gzip", ".gz"))
PMTILES_URL = "/basemap.pmtiles"
CONFIG_PLACEHOLDER = "{{config}}"

web = Blueprint("web_map", __name__)


def require_bundle() -> None:
    if not (WEB_DIST / "index.html").is_file():
        raise ServiceUnavailable(
            "The web map is not built: `make run` builds it (or `npm ci && npm run build` in web/)."
        )


def basemap_settings() -> dict:
    """What the app draws under the devices: the server's PMTiles archive, or raster tiles."""
    config = current_app.config
    if config["BASEMAP_PMTILES"]:
        kind, url = "pmtiles", PMTILES_URL
    else:
        kind, url = "raster", config["BASEMAP_URL"]
    return {"type": kind, "url": url, "attribution": config["BASEMAP_ATTRIBUTION"]}


def basemap_source() -> str:
    """The CSP source of the raster basemap's host ('self' covers a relative template)."""
    settings = basemap_settings()
    parts = urlsplit(settings["url"])
    if settings["type"] != "raster" or not parts.netloc:
        return ""
    # A template's subdomain placeholder ({s}.tile...) becomes the CSP wildcard.
    return f" {parts.scheme}://{parts.netloc.replace('{s}', '*')}"


def content_security_policy() -> str:
    """No inline script, and no host but this one and the configured basemap."""
    basemap = basemap_source()
    return (
        "default-src 'self'; script-src 'self'; "
        # Leaflet positions its markers and tiles with style attributes.
        "style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:{basemap}; connect-src 'self'{basemap}; "
        "worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def app_response(response):
    response.headers["Content-Security-Policy"] = content_security_policy()
    response.headers["Cache-Control"] = "no-cache"
    return response


@web.route("/")
def index():
    require_bundle()
    # The settings ride in a JSON data block (not a script: the CSP allows no inline script);
    # "<" is escaped so that no value can close the block.
    settings = json.dumps({"basemap": basemap_settings()}).replace("<", "\\u003c")
    page = (WEB_DIST / "index.html").read_text().replace(CONFIG_PLACEHOLDER, settings)
    return app_response(current_app.response_class(page, mimetype="text/html"))


@web.route("/sw.js")
def service_worker():
    """At the root, so that its scope is the whole app.

    The worker fetches the raster basemap's tiles under the CSP it was installed with, which a
    browser renews only when the script's bytes change: a line naming the basemap's host makes
    them change with it.
    """
    require_bundle()
    script = (WEB_DIST / "sw.js").read_text() + f"\n// basemap:{basemap_source()}\n"
    return app_response(current_app.response_class(script, mimetype="text/javascript"))


@web.route("/manifest.webmanifest")
def manifest():
    require_bundle()
    response = send_from_directory(
        WEB_DIST, "manifest.webmanifest", mimetype="application/manifest+json", max_age=0
    )
    response.headers["Cache-Control"] = "no-cache"
    return response


@web.route(PMTILES_URL)
def basemap_archive():
    """The PMTiles basemap, read by the app with range requests: tiles never leave this host."""
    path = current_app.config["BASEMAP_PMTILES"]
    if not path or not Path(path).is_file():
        raise NotFound("No PMTiles basemap is configured (BASEMAP_PMTILES).")
    response = send_file(
        path, mimetype="application/vnd.pmtiles", conditional=True, max_age=3600, etag=True
    )
    response.headers["Accept-Ranges"] = "bytes"
    return response


@web.route("/map/<path:filename>")
def asset(filename):
    require_bundle()
    response = None
    for coding, suffix in PRECOMPRESSED:
        if request.accept_encodings[coding] and (WEB_DIST / f"{filename}{suffix}").is_file():
            mimetype = mimetypes.guess_type(filename)[0]
            response = send_from_directory(
                WEB_DIST, f"{filename}{suffix}", mimetype=mimetype, max_age=0
            )
            response.headers["Content-Encoding"] = coding
            break
    if response is None:
        response = send_from_directory(WEB_DIST, filename, max_age=0)
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = f"public, max-age={ASSET_MAX_AGE}, immutable"
    return response


def init_app(app) -> None:
    app.register_blueprint(web)
