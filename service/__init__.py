"""Vigie: an open participatory map of urban surveillance, served over PostGIS."""

import logging

from flask import Flask

from . import caching, db, delivery, extensions, idempotency, nodes, ratelimit, storage
from .auth import NoCookieSession
from .config import Config
from .proxies import ForwardedByProxies


def create_app(config: Config | None = None) -> Flask:
    """Build the application: configuration, database, API blueprints, docs and CLI."""
    app = Flask(__name__)
    app.request_class = extensions.StrictFormRequest
    app.config.from_mapping((config or Config()).as_flask_mapping())
    app.json = extensions.JSONProvider(app)
    app.session_interface = NoCookieSession()
    if app.config["TRUSTED_PROXIES"]:
        # The client's address (rate limits) and scheme (absolute URLs) as the proxies in front
        # pass them on; without proxies, those headers are the client's to forge and are ignored.
        app.wsgi_app = ForwardedByProxies(app.wsgi_app, app.config["TRUSTED_PROXIES"])
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    db.init_app(app)
    nodes.init_app(app)
    storage.init_app(app)
    delivery.init_app(app)
    caching.init_app(app)
    extensions.api.init_app(app)
    app.before_request(extensions.refuse_malformed_hosts)
    app.before_request(extensions.refuse_encoded_bodies)
    app.before_request(extensions.refuse_bodies_over_the_limit)
    ratelimit.init_app(app)
    # After the rate limiter's check: a client over its limit is not read further.
    app.before_request(extensions.reject_unstorable_text)
    idempotency.init_app(app)
    from .api import BLUEPRINTS

    for blueprint in BLUEPRINTS:
        extensions.api.register_blueprint(blueprint)

    from . import cli, docs, web

    docs.init_app(app)
    web.init_app(app)
    cli.init_app(app)
    return app
