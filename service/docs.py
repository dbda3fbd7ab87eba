"""Interactive API docs at /api/docs, with Swagger UI served from the installed package (no CDN)."""

from flask import Blueprint, send_from_directory
from swagger_ui_bundle import swagger_ui_path

SWAGGER_ASSETS_URL = "/api/docs/assets/"

assets = Blueprint("swagger_ui_assets", __name__)


@assets.route(SWAGGER_ASSETS_URL + "<path:filename>")
def swagger_asset(filename):
    return send_from_directory(str(swagger_ui_path), filename, max_age=86400)


def init_app(app) -> None:
    app.register_blueprint(assets)
