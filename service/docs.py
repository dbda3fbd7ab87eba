"""Interactive API docs at /api/docs, with Swagger UI served from the installed package (no CDN).

The page is flask-smorest's, from service/templates/swagger_ui.html: it starts Swagger UI from
a script file rather than an inline one, so that it can carry a Content-Security-Policy that
allows nothing but this server (Swagger UI sets inline styles, which the policy allows).
"""

from pathlib import Path

from flask import request, send_from_directory
from swagger_ui_bundle import swagger_ui_path

STATIC = Path(__file__).parent / "static"
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'"
)


def swagger_asset(filename):
    return send_from_directory(str(swagger_ui_path), filename, max_age=86400)


def swagger_start():
    return send_from_directory(STATIC, "swagger-start.js", max_age=86400)


def init_app(app) -> None:
    """Serve the assets where flask-smorest's page looks for them (OPENAPI_SWAGGER_UI_URL)."""
    app.add_url_rule(
        app.config["OPENAPI_SWAGGER_UI_URL"] + "<path:filename>", "swagger_asset", swagger_asset
    )
    app.add_url_rule(
        app.config["OPENAPI_SWAGGER_UI_URL"] + "start.js", "swagger_start", swagger_start
    )
    page = app.config["OPENAPI_URL_PREFIX"] + app.config["OPENAPI_SWAGGER_UI_PATH"]

    @app.after_request
    def docs_policy(response):
        if request.path == page:
            response.headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return response
