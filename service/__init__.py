"""Vigie: an open participatory map of urban surveillance, served over PostGIS."""

import logging

from flask import Flask

from . import db, delivery, extensions, idempotency, ratelimit, storage
from .auth import NoCookieSession
from .config import Config


def create_app(config: Config | None = None) -> Flask:
    """Build the application: configuration, database, API blueprints, docs and CLI."""
    app = Flask(__name__)
    app.config.from_mapping((config or Config()).as_flask_mapping())
    app.json = extensions.JSONProvider(app)
    app.session_interface = NoCookieSession()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    db.init_app(app)
    storage.init_app(app)
    delivery.init_app(app)
    extensions.api.init_app(app)
    app.before_request(extensions.reject_nul_characters)
    ratelimit.init_app(app)
    idempotency.init_app(app)
    from .api import BLUEPRINTS

    for blueprint in BLUEPRINTS:
        extensions.api.register_blueprint(blueprint)

    from . import cli, docs, web

    docs.init_app(app)
    web.init_app(app)
    cli.init_app(app)
    return app
