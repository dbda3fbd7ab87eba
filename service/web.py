"""The web map at /: static files bundled from web/ by esbuild at build time (no CDN)."""

from flask import Blueprint, send_from_directory

from .config import PROJECT_DIR
from .errors import ServiceUnavailable

WEB_DIST = PROJECT_DIR / "web" / "dist"
# Asset names carry a hash of their content: a browser may keep them for good.
ASSET_MAX_AGE = 365 * 24 * 3600

web = Blueprint("web_map", __name__)


def require_bundle() -> None:
    if not (WEB_DIST / "index.html").is_file():
        raise ServiceUnavailable(
            "The web map is not built: `make run` builds it (or `npm ci && npm run build` in web/)."
        )


@web.route("/")
def index():
    require_bundle()
    response = send_from_directory(WEB_DIST, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@web.route("/map/<path:filename>")
def asset(filename):
    require_bundle()
    response = send_from_directory(WEB_DIST, filename, max_age=ASSET_MAX_AGE)
    response.headers["Cache-Control"] = f"public, max-age={ASSET_MAX_AGE}, immutable"
    return response


def init_app(app) -> None:
    app.register_blueprint(web)
