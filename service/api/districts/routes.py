"""Districts: the administrative areas statistics are computed over, as GeoJSON."""

from flask import Response
from flask.views import MethodView
from marshmallow import RAISE

from ...caching import ALL_DISTRICTS, share
from ...db import session
from ...errors import NotFound
from ...extensions import Blueprint
from ...geo.districts import (
    DEFAULT_TOLERANCE_M,
    codes_after,
    district_clauses,
    select_district_collection,
    select_district_feature,
)
from ...geo.statistics.density import (
    select_district_credits,
    select_known_levels,
    select_known_parents,
)
from ..credits import licence_links, with_credit_headers
from ..fields import split_antimeridian
from ..geojson import GEOJSON, feature_collection, link, this_url_with
from .schemas import (
    DistrictCollectionSchema,
    DistrictFeatureSchema,
    DistrictOneArgsSchema,
    DistrictQueryArgsSchema,
)

DEFAULT_LIMIT = 1000

blp = Blueprint(
    "districts",
    __name__,
    url_prefix="/api/v1/districts",
    description="Administrative areas (country > commune > arrondissement > quartier).",
)


@blp.route("")
class DistrictViews(MethodView):
    @blp.arguments(DistrictQueryArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, DistrictCollectionSchema, content_type=GEOJSON)
    @blp.problems(400, 404)
    def get(self, args):
        """List districts by level, parent and bbox, with simplified geometry"""
        share([ALL_DISTRICTS])
        clauses = district_clauses(
            levels=[args["level"]] if args.get("level") else [],
            parents=list(args.get("parent", ())),
            bboxes=split_antimeridian(args["bbox"]) if args.get("bbox") else [],
        )
        tolerance = args.get("tolerance", DEFAULT_TOLERANCE_M)
        limit = args.get("limit", DEFAULT_LIMIT)
        page = session.execute(
            select_district_collection(clauses, tolerance, limit, args.get("cursor"))
        ).one()
        if not page.returned:
            refuse_unknown_level_or_parents(args.get("level"), args.get("parent", ()))
        # The sources of the page's districts (the boundaries' licences ask it, ODbL's say).
        credits = district_credits([*clauses, *codes_after(args.get("cursor"), page.last)])
        links = [link(this_url_with(), "self"), *licence_links(credits)]
        if page.has_more:
            links.append(link(this_url_with(cursor=page.last), "next"))
        body = feature_collection(
            page.features, numberReturned=page.returned, truncated=page.has_more, links=links
        )
        return with_credit_headers(Response(body, mimetype=GEOJSON), credits)


def district_credits(clauses) -> list[dict]:
    return session.execute(select_district_credits(clauses, [])).scalar_one() or []


def refuse_unknown_level_or_parents(level: str | None, parents) -> None:
    """An empty page asked for a LEVEL, or PARENTS, that no district has is a 404 naming it, as
    the statistics and downloads answer: a typo read as "no districts here" misleads. A
    parent is known as a district's code or as the parent of some (arrondissements imported
    without their commune). A bbox, or a level and parent, that hold none are an empty page."""
    if level and not session.execute(select_known_levels([level])).first():
        raise NotFound(f"No district has the level {level}.", field="level")
    known = set(session.execute(select_known_parents(list(parents))).scalars()) if parents else ()
    unknown = [code for code in parents if code not in known]
    if unknown:
        raise NotFound(f"No district has the code {', '.join(unknown)}.", field="parent")


@blp.route("/<string:code>")
class DistrictByCodeViews(MethodView):
    @blp.arguments(DistrictOneArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, DistrictFeatureSchema, content_type=GEOJSON)
    @blp.problems(400, 404)
    def get(self, args, code):
        """Read one district as a GeoJSON Feature"""
        share([ALL_DISTRICTS])
        tolerance = args.get("tolerance", DEFAULT_TOLERANCE_M)
        feature = session.execute(select_district_feature(code, tolerance)).scalar_one_or_none()
        if feature is None:
            raise NotFound(f"No district has the code {code}.", field="code")
        credits = district_credits(district_clauses(codes=[code]))
        return with_credit_headers(Response(feature, mimetype=GEOJSON), credits)
