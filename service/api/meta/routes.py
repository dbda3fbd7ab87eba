"""The service describing itself: vocabulary and health."""

from dataclasses import asdict

from flask import current_app
from flask.views import MethodView
from sqlalchemy.exc import SQLAlchemyError

from ... import vocabulary as vocab
from ...auth import current_user
from ...db import session
from ...errors import ServiceUnavailable
from ...extensions import DATABASE_RETRY_AFTER_SECONDS, Blueprint
from ...geo.meta import select_versions
from .schemas import HealthSchema, KindListSchema

blp = Blueprint("meta", __name__, url_prefix="/api/v1", description="Vocabulary and health.")


@blp.route("/kinds")
class KindViews(MethodView):
    @blp.response(200, KindListSchema)
    def get(self):
        """List the kinds of device, with the OpenStreetMap tags each maps to"""
        return {"kinds": [asdict(kind) for kind in vocab.KINDS]}


@blp.route("/health")
class HealthViews(MethodView):
    @blp.doc(security=[{}, {"bearerAuth": []}])
    @blp.response(200, HealthSchema)
    @blp.problems(401, 503)
    def get(self):
        """Report whether Vigie is up; admins also see the PostgreSQL and PostGIS versions"""
        try:
            row = session.execute(select_versions()).one()
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(
                "The database does not answer.",
                headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
            ) from exc
        # Exact versions tell an attacker which known flaws to try: admins only.
        user = current_user()
        if user is None or user.role != "admin":
            return {"status": "ok"}
        health = {"status": "ok", "database": row.database, "postgis": row.postgis}
        replicas = current_app.extensions["replicas"]
        if replicas is not None:
            health["replicas"] = replicas.health()
        return health
