"""Declared lists of surveillance sites, their statuses, and which devices were found there."""

import uuid

from flask.views import MethodView
from marshmallow import RAISE

from ...db import session
from ...delivery import conditional_response
from ...errors import NotFound
from ...extensions import Blueprint
from ...geo.declared.features import (
    select_dataset_json,
    select_datasets_json,
    select_device_declaration,
    select_site_feature,
    select_site_page,
    site_clauses,
)
from ...visibility import is_public
from ..access import find_device
from ..credits import (
    declared_credits,
    declared_site_credits,
    device_credits,
    licence_links,
    with_credit_headers,
)
from ..fields import split_antimeridian
from ..geojson import (
    GEOJSON,
    JSON,
    CursorCodec,
    compact_json,
    feature_collection,
    link,
    request_uri,
    this_url_with,
)
from .schemas import (
    DeclaredDatasetSchema,
    DeclaredSiteCollectionSchema,
    DeclaredSiteFeatureSchema,
    DeclaredSiteQueryArgsSchema,
    DeviceDeclarationSchema,
)

DEFAULT_PAGE_SIZE = 1000
CURSORS = CursorCodec(uuid.UUID, advice="restart from the first page.")

blp = Blueprint(
    "declared",
    __name__,
    url_prefix="/api/v1/declared",
    description="Declared lists of surveillance sites versus the devices observed on the ground.",
)


@blp.route("/datasets")
class DeclaredDatasetViews(MethodView):
    @blp.response(200, DeclaredDatasetSchema(many=True), content_type=JSON)
    def get(self):
        """List the declared datasets with their provenance, versions and figures"""
        body = compact_json(session.execute(select_datasets_json()).scalar_one())
        return with_credit_headers(conditional_response(body, JSON), declared_site_credits())


@blp.route("/datasets/<string:name>")
class DeclaredDatasetByNameViews(MethodView):
    @blp.response(200, DeclaredDatasetSchema, content_type=JSON)
    @blp.problems(404)
    def get(self, name):
        """Read one declared dataset: provenance, versions (what each changed), figures"""
        body = session.execute(select_dataset_json(name)).scalar_one_or_none()
        if body is None:
            raise NotFound(f"No declared dataset is named {name!r}.", field="name")
        return with_credit_headers(
            conditional_response(compact_json(body), JSON), declared_site_credits(name)
        )


@blp.route("/sites")
class DeclaredSiteViews(MethodView):
    @blp.arguments(DeclaredSiteQueryArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, DeclaredSiteCollectionSchema, content_type=GEOJSON)
    @blp.problems(400, 404)
    def get(self, args):
        """List declared sites with their status and matched devices, page by page"""
        dataset = args.get("dataset")
        lists = declared_credits(dataset)
        if dataset and not lists:
            raise NotFound(
                f"No declared dataset is named {dataset!r}; see GET /api/v1/declared/datasets.",
                field="dataset",
            )
        clauses = site_clauses(
            dataset=args.get("dataset"),
            statuses=list(args.get("status", ())),
            bboxes=split_antimeridian(args["bbox"]) if args.get("bbox") else [],
        )
        after = CURSORS.decode(args["cursor"])[0] if args.get("cursor") else None
        limit = args.get("limit", DEFAULT_PAGE_SIZE)
        page = session.execute(select_site_page(clauses, limit, after)).one()
        credits = [*lists, *device_credits()]
        links = [link(request_uri(), "self")]
        if page.has_more:
            cursor = CURSORS.encode(*CURSORS.parse_edge(page.last_key))
            links.append(link(this_url_with(cursor=cursor), "next"))
        links += licence_links(credits)
        body = feature_collection(page.features, numberReturned=page.returned, links=links)
        return with_credit_headers(conditional_response(body, GEOJSON), credits)


@blp.route("/sites/<uuid:site_id>")
class DeclaredSiteByIdViews(MethodView):
    @blp.response(200, DeclaredSiteFeatureSchema, content_type=GEOJSON)
    @blp.problems(404)
    def get(self, site_id):
        """Read one declared site as a GeoJSON Feature"""
        site = session.execute(select_site_feature(site_id)).one_or_none()
        if site is None:
            raise NotFound(f"No declared site has the id {site_id}.", field="site_id")
        credits = declared_site_credits(site.dataset)
        return with_credit_headers(conditional_response(site.feature, GEOJSON), credits)


@blp.route("/devices/<uuid:device_id>")
class DeviceDeclarationViews(MethodView):
    @blp.response(200, DeviceDeclarationSchema, content_type=JSON)
    @blp.problems(404, 410)
    @blp.reads_caller()
    def get(self, device_id):
        """Whether a device is declared: the declared sites it matches (public devices only)"""
        device = find_device(device_id)
        sites = (
            session.execute(select_device_declaration(device_id)).scalar_one()
            if is_public(device.review_status)
            else "[]"
        )
        declared = "false" if sites == "[]" else "true"
        body = f'{{"device":"{device_id}","declared":{declared},"sites":{sites}}}'
        return with_credit_headers(conditional_response(body, JSON), declared_site_credits())
