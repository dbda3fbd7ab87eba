"""Interactive API docs at /api/docs, with Swagger UI served from the installed package (no CDN)."""

from flask import send_from_directory
from swagger_ui_bundle import swagger_ui_path


def swagger_asset(filename):
    return send_from_directory(str(swagger_ui_path), filename, max_age=86400)


def init_app(app) -> None:
    """Serve the assets where flask-smorest's page looks for them (OPENAPI_SWAGGER_UI_URL)."""
    app.add_url_rule(
        app.config["OPENAPI_SWAGGER_UI_URL"] + "<path:filename>", "swagger_asset", swagger_asset
    )
