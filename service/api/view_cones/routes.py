"""View cones: the ground each camera is modelled to see, as GeoJSON (see docs/statistics.md)."""

from flask import current_app
from flask.views import MethodView
from marshmallow import RAISE

from ... import vocabulary as vocab
from ...auth import current_viewer
from ...caching import area_keys, device_key, share
from ...db import session
from ...delivery import conditional_response
from ...errors import NotFound
from ...extensions import ETAG_HEADER, Blueprint
from ...geo.statistics.selection import StatisticsFilter
from ...geo.view_cones import ViewModel, select_view_cone, select_view_cones
from ...visibility import may_see
from ..access import device_gone
from ..credits import device_credits, licence_links, with_credit_headers
from ..fields import split_antimeridian
from ..geojson import GEOJSON, feature_collection, link, request_uri
from .schemas import ViewConeCollectionSchema, ViewConesArgsSchema, ViewConeSchema

DEFAULT_LIMIT = 1000

blp = Blueprint(
    "view_cones",
    __name__,
    url_prefix="/api/v1",
    description="View cones of cameras: sectors or discs of a radius per camera type.",
)


@blp.route("/devices/<uuid:device_id>/view")
class DeviceViewConeViews(MethodView):
    @blp.response(200, ViewConeSchema, content_type=GEOJSON, headers=ETAG_HEADER)
    @blp.alt_response(304, description="Not modified since the ETag in If-None-Match")
    @blp.problems(404, 410)
    @blp.reads_caller()
    def get(self, device_id):
        """Give the view cone of one camera as a GeoJSON Feature"""
        model = ViewModel.from_config(current_app.config)
        row = session.execute(select_view_cone(device_id, model)).one_or_none()
        if row is None or not may_see(row.review_status, row.created_by, current_viewer()):
            raise NotFound(f"No device has the id {device_id}.", field="device_id")
        if row.deleted_at is not None:
            raise device_gone(device_id, row.deleted_at, row.merged_into, "device_id")
        if row.kind not in vocab.CAMERA_KINDS:
            raise NotFound(
                f"Device {device_id} is a {row.kind}: it has no view cone.", field="device_id"
            )
        # Kept by shared caches as the device itself is, and purged with it.
        share([device_key(device_id)], per_viewer=True)
        # Drawn from the device's data (OpenStreetMap's, when imported): credited so.
        return with_credit_headers(conditional_response(row.feature, GEOJSON), device_credits())


@blp.route("/views")
class ViewConesViews(MethodView):
    @blp.arguments(ViewConesArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, ViewConeCollectionSchema, content_type=GEOJSON, headers=ETAG_HEADER)
    @blp.alt_response(304, description="Not modified since the ETag in If-None-Match")
    @blp.problems(400)
    def get(self, args):
        """List the view cones of the public cameras in a bbox as a GeoJSON FeatureCollection"""
        flt = StatisticsFilter(
            kinds=list(args.get("kind", ())),
            statuses=list(args.get("status", ())),
            operator_types=list(args.get("operator_type", ())),
            verifications=list(args.get("verification", ())),
            bboxes=split_antimeridian(args["bbox"]),
        )
        limit = args.get("limit", DEFAULT_LIMIT)
        # A cone is its camera's: the answer is purged when a device of the area changes, as
        # the listing of the same area is (public cameras only, whoever asks).
        share(area_keys(flt.bboxes))
        model = ViewModel.from_config(current_app.config)
        page = session.execute(select_view_cones(flt, model, limit)).one()
        credits = device_credits()
        body = feature_collection(
            page.features,
            numberReturned=page.returned,
            truncated=page.has_more,
            links=[link(request_uri(), "self"), *licence_links(credits)],
        )
        return with_credit_headers(conditional_response(body, GEOJSON), credits)
