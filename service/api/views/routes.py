"""View cones: the ground each camera is modelled to see, as GeoJSON (see docs/statistics.md)."""

from flask import Response, current_app
from flask.views import MethodView
from marshmallow import RAISE

from ...db import session
from ...errors import Gone, NotFound
from ...extensions import Blueprint
from ...geo.statistics import SEEING_KINDS, StatisticsFilter, ViewModel
from ...geo.views import select_view_cone, select_view_cones
from ..fields import split_antimeridian
from .schemas import ViewConeCollectionSchema, ViewConesArgsSchema, ViewConeSchema

GEOJSON = "application/geo+json"
DEFAULT_LIMIT = 1000

blp = Blueprint(
    "views",
    __name__,
    url_prefix="/api/v1",
    description="View cones of cameras: sectors or discs of a radius per camera type.",
)


def parse_radii(text: str) -> dict[str, float]:
    """'fixed=30,dome=20' -> {'fixed': 30.0, 'dome': 20.0}."""
    pairs = (item.split("=", 1) for item in text.split(",") if item.strip())
    return {name.strip(): float(metres) for name, metres in pairs}


def view_model() -> ViewModel:
    config = current_app.config
    return ViewModel(
        radius_by_type=parse_radii(config["VIEW_RADII"]),
        default_radius_m=config["VIEW_DEFAULT_RADIUS_M"],
        default_fov=config["VIEW_DEFAULT_FOV"],
    )


@blp.route("/devices/<uuid:device_id>/view")
class DeviceViewConeViews(MethodView):
    @blp.response(200, ViewConeSchema, content_type=GEOJSON)
    @blp.problems(404, 410)
    def get(self, device_id):
        """Give the view cone of one camera as a GeoJSON Feature"""
        row = session.execute(select_view_cone(device_id, view_model())).one_or_none()
        if row is None:
            raise NotFound(f"No device has the id {device_id}.")
        if row.deleted_at is not None:
            raise Gone(f"Device {device_id} was deleted.", deleted_at=row.deleted_at.isoformat())
        if row.kind not in SEEING_KINDS:
            raise NotFound(f"Device {device_id} is a {row.kind}: it has no view cone.")
        return Response(row.feature, mimetype=GEOJSON)


@blp.route("/views")
class ViewConesViews(MethodView):
    @blp.arguments(ViewConesArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, ViewConeCollectionSchema, content_type=GEOJSON)
    @blp.problems(400)
    def get(self, args):
        """List the view cones of the cameras in a bbox as a GeoJSON FeatureCollection"""
        flt = StatisticsFilter(
            kinds=list(args.get("kind", ())),
            statuses=list(args.get("status", ())),
            operator_types=list(args.get("operator_type", ())),
            verifications=list(args.get("verification", ())),
            bboxes=split_antimeridian(args["bbox"]),
        )
        limit = args.get("limit", DEFAULT_LIMIT)
        page = session.execute(select_view_cones(flt, view_model(), limit)).one()
        body = (
            f'{{"type":"FeatureCollection","features":[{page.features}],'
            f'"numberReturned":{page.returned},"truncated":{"true" if page.has_more else "false"}}}'
        )
        return Response(body, mimetype=GEOJSON)
