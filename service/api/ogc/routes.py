"""OGC API - Features (Part 1 core, GeoJSON, OpenAPI 3.0; Part 3 CQL2 text) at /ogc.

Every collection of the registry in service/geo/collections.py is served the same way; the
Features themselves are written by PostGIS and joined into the page without a Python loop.
"""

import orjson
from flask import Response, current_app, request, url_for
from flask.views import MethodView
from marshmallow import RAISE

from ...caching import ALL_DEVICES, area_keys, device_key, district_key, share
from ...db import run_statement, session, time_limit
from ...delivery import conditional_response
from ...errors import BadRequest, NotFound
from ...extensions import Blueprint
from ...geo.collections import COLLECTIONS, DEVICES, OgcCollection, PageRequest
from ...geo.cql2 import FilterError, cql2_text_clause
from ..fields import split_antimeridian
from ..geojson import (
    GEOJSON,
    JSON,
    CursorCodec,
    feature_collection,
    link,
    photo_base,
    this_url_with,
)
from .schemas import (
    DEFAULT_LIMIT,
    CollectionSchema,
    CollectionsSchema,
    ConformanceSchema,
    FormatArgsSchema,
    LandingPageSchema,
    OgcFeatureCollectionSchema,
    OgcFeatureSchema,
    QueryablesSchema,
    items_args_schema,
)

OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA_JSON = "application/schema+json"
# Items are served as GeoJSON, or as the same body labelled application/json (f=json).
OGC_FEATURE = "#/components/schemas/OgcFeature"
OGC_FEATURE_COLLECTION = "#/components/schemas/OgcFeatureCollection"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"

CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
)

blp = Blueprint(
    "ogc",
    __name__,
    url_prefix="/ogc",
    description="OGC API - Features: devices (and other collections) for GIS clients such as "
    "QGIS, ArcGIS and GDAL, with CQL2 text filters.",
)


def json_response(document: dict, media_type: str = JSON) -> Response:
    return Response(orjson.dumps(document), mimetype=media_type)


def share_items(collection: OgcCollection, bboxes) -> None:
    """Items of devices are named by their area; districts carry counts of devices anywhere."""
    share(area_keys(bboxes) if collection.id == DEVICES.id else [ALL_DEVICES])


def share_item(collection: OgcCollection, key) -> None:
    share([device_key(key) if collection.id == DEVICES.id else district_key(key)])


def find_collection(collection_id: str) -> OgcCollection:
    collection = COLLECTIONS.get(collection_id)
    if collection is None:
        raise NotFound(f"No collection is called {collection_id!r}.", field="collectionId")
    return collection


def cursor_codec(collection: OgcCollection) -> CursorCodec:
    """Cursors of a collection: whether they page backward, then a position of its own."""
    return CursorCodec(bool, *collection.position_types, advice="restart from the first page.")


def read_cursor(collection: OgcCollection, cursor: str) -> tuple[bool, tuple]:
    """(backward, position) to page before or after a page edge."""
    backward, *position = CURSORS[collection.id].decode(cursor)
    try:
        collection.paging.check_position(tuple(position))
    except ValueError as exc:
        raise BadRequest(
            "The cursor is not one this server issued; restart from the first page.",
            field="cursor",
        ) from exc
    return backward, tuple(position)


def describe_collection(collection: OgcCollection) -> dict:
    base = url_for("ogc.CollectionViews", collection_id=collection.id, _external=True)
    document = {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "itemType": collection.item_type,
        "crs": [CRS84],
        "links": [
            link(base, "self", JSON, "This collection"),
            link(f"{base}/items", "items", GEOJSON, "Its features"),
            link(
                f"{base}/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                SCHEMA_JSON,
                "Properties to filter on",
            ),
        ],
    }
    row = session.execute(collection.select_extent()).one()
    extent = {}
    if row.min_x is not None:
        extent["spatial"] = {"bbox": [[row.min_x, row.min_y, row.max_x, row.max_y]], "crs": CRS84}
    if collection.temporal is not None and row.start is not None:
        extent["temporal"] = {
            "interval": [[row.start.isoformat(), row.end.isoformat()]],
            "trs": GREGORIAN,
        }
    if extent:
        document["extent"] = extent
    return document


@blp.route("")
class LandingPageViews(MethodView):
    @blp.arguments(FormatArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, LandingPageSchema)
    @blp.problems(400)
    def get(self, _args):
        """Describe the OGC API Features service and link to its parts"""
        share([])
        here = url_for("ogc.LandingPageViews", _external=True)
        return json_response(
            {
                "title": "Vigie - OGC API Features",
                "description": "Surveillance devices mapped by contributors, for GIS clients.",
                "links": [
                    link(here, "self", JSON, "This document"),
                    link(
                        url_for("api-docs.openapi_json", _external=True),
                        "service-desc",
                        OPENAPI,
                        "The API definition (OpenAPI 3.0)",
                    ),
                    link(
                        url_for("api-docs.openapi_swagger_ui", _external=True),
                        "service-doc",
                        "text/html",
                        "The API documentation",
                    ),
                    link(
                        url_for("ogc.ConformanceViews", _external=True),
                        "conformance",
                        JSON,
                        "Conformance classes implemented",
                    ),
                    link(
                        url_for("ogc.CollectionListViews", _external=True),
                        "data",
                        JSON,
                        "The feature collections",
                    ),
                ],
            }
        )


@blp.route("/conformance")
class ConformanceViews(MethodView):
    @blp.arguments(FormatArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, ConformanceSchema)
    @blp.problems(400)
    def get(self, _args):
        """List the OGC conformance classes this server implements"""
        share([])
        return json_response({"conformsTo": list(CONFORMANCE)})


@blp.route("/collections")
class CollectionListViews(MethodView):
    @blp.arguments(FormatArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, CollectionsSchema)
    @blp.problems(400)
    def get(self, _args):
        """List the feature collections, each with its extent computed from the data"""
        share([ALL_DEVICES])
        return json_response(
            {
                "collections": [describe_collection(c) for c in COLLECTIONS.values()],
                "links": [link(request.base_url, "self", JSON, "The collections")],
            }
        )


@blp.route("/collections/<collection_id>")
class CollectionViews(MethodView):
    @blp.arguments(FormatArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, CollectionSchema)
    @blp.problems(400, 404)
    def get(self, _args, collection_id):
        """Describe one collection, with its extent computed from the data"""
        share([ALL_DEVICES])
        return json_response(describe_collection(find_collection(collection_id)))


@blp.route("/collections/<collection_id>/queryables")
class QueryablesViews(MethodView):
    @blp.arguments(FormatArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, QueryablesSchema, content_type=SCHEMA_JSON)
    @blp.problems(400, 404)
    def get(self, _args, collection_id):
        """List the properties a CQL2 filter (or a property parameter) may use"""
        share([])
        collection = find_collection(collection_id)
        return json_response(
            {
                "$schema": "https://json-schema.org/draft/2019-09/schema",
                "$id": request.base_url,
                "title": collection.title,
                "type": "object",
                "properties": {
                    name: queryable.json_schema(name)
                    for name, queryable in collection.queryables.items()
                },
                "additionalProperties": False,
            },
            SCHEMA_JSON,
        )


@blp.route("/collections/<collection_id>/items/<feature_id>")
class ItemViews(MethodView):
    @blp.arguments(FormatArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, OgcFeatureSchema, content_type=GEOJSON)
    @blp.served_as(
        {media: {"$ref": "#/components/schemas/OgcFeature"} for media in (GEOJSON, JSON)}
    )
    @blp.problems(400, 404)
    def get(self, args, collection_id, feature_id):
        """Read one feature of a collection"""
        collection = find_collection(collection_id)
        try:
            key = collection.key_type(feature_id)
        except ValueError as exc:
            raise NotFound(f"No feature has the id {feature_id!r}.", field="featureId") from exc
        share_item(collection, key)
        feature = session.execute(
            collection.select_item(key), {"photo_base": photo_base()}
        ).scalar_one_or_none()
        if feature is None:
            raise NotFound(f"No feature has the id {feature_id!r}.", field="featureId")
        collection_url = url_for("ogc.CollectionViews", collection_id=collection.id, _external=True)
        links = [
            link(request.base_url, "self", GEOJSON, "This feature"),
            link(collection_url, "collection", JSON, collection.title),
        ]
        body = f'{feature[:-1]},"links":{orjson.dumps(links).decode()}}}'
        return conditional_response(body, JSON if args.get("f") == "json" else GEOJSON)


def filter_conditions(collection: OgcCollection, args: dict) -> list:
    """Clauses of the property parameters and of the CQL2 filter."""
    conditions = [
        collection.queryables[name].expression.in_(args[name])
        for name in collection.property_filters
        if args.get(name)
    ]
    if "filter" in args:
        try:
            conditions.append(cql2_text_clause(args["filter"], collection.queryables))
        except FilterError as exc:
            raise BadRequest(str(exc), field="filter") from exc
    return conditions


def paging_links(collection: OgcCollection, page, backward: bool | None, position) -> list[dict]:
    """next/prev links around a page read forward or backward from POSITION (None: the start)."""
    codec = CURSORS[collection.id]

    def cursor(backward: bool, edge: str | None) -> str:
        parts = position if edge is None else codec.parse_edge(edge, collection.position_types)
        return codec.encode(backward, *parts)

    links = []
    if backward:
        if page.has_more:
            links.append(("prev", cursor(True, page.first_key)))
        links.append(("next", cursor(False, page.last_key)))
    else:
        if page.has_more:
            links.append(("next", cursor(False, page.last_key)))
        if backward is False:
            links.append(("prev", cursor(True, page.first_key)))
    return [link(this_url_with(cursor=cursor), rel, GEOJSON) for rel, cursor in links]


def items_response(collection: OgcCollection, args: dict) -> Response:
    backward, position = (
        read_cursor(collection, args["cursor"]) if "cursor" in args else (None, None)
    )
    asked = PageRequest(
        bboxes=split_antimeridian(args["bbox"]) if "bbox" in args else [],
        interval=args.get("datetime"),
        conditions=filter_conditions(collection, args),
        limit=args.get("limit", DEFAULT_LIMIT),
        after=position if backward is False else None,
        before=position if backward else None,
    )
    share_items(collection, asked.bboxes)
    statement = collection.select_page(asked)
    if asked.conditions:  # any CQL2 a client writes: bounded, so that it frees the worker
        too_long = BadRequest(
            "This filter takes too long to evaluate: narrow it (a bbox, fewer conditions).",
            field="filter",
        )
        with time_limit(current_app.config["FILTER_TIMEOUT_MS"], too_long):
            row = run_statement(statement, photo_base=photo_base())
    else:
        row = run_statement(statement, photo_base=photo_base())
    page = collection.paging.page_of(row, asked)
    # numberMatched is free when the first page holds every match; otherwise a count would
    # cost more than the page itself, and Part 1 lets the server leave it out.
    matched = page.returned if backward is None and not page.has_more else None
    media_type, other = (JSON, GEOJSON) if args.get("f") == "json" else (GEOJSON, JSON)
    links = [
        link(request.url, "self", media_type, "This page"),
        link(
            this_url_with(f="geojson" if other == GEOJSON else "json"),
            "alternate",
            other,
            "This page as " + other,
        ),
        link(
            url_for("ogc.CollectionViews", collection_id=collection.id, _external=True),
            "collection",
            JSON,
            collection.title,
        ),
        *paging_links(collection, page, backward, position),
    ]
    body = feature_collection(
        page.features, numberReturned=page.returned, numberMatched=matched, links=links
    )
    return conditional_response(body, media_type)


def register_items_route(collection: OgcCollection) -> None:
    """Serve a collection's items, with a parameter schema naming its own property filters."""
    endpoint = f"{collection.id}_items"

    class ItemsViews(MethodView):
        # An instance, not the class: webargs would build (and deep-copy) one per request.
        @blp.arguments(items_args_schema(collection)(), location="query", unknown=RAISE)
        @blp.response(200, OgcFeatureCollectionSchema, content_type=GEOJSON)
        @blp.served_as(
            {
                media: {"$ref": "#/components/schemas/OgcFeatureCollection"}
                for media in (GEOJSON, JSON)
            }
        )
        @blp.alt_response(304, description="Not modified since the ETag in If-None-Match")
        @blp.problems(400)
        def get(self, args):
            return items_response(collection, args)

    ItemsViews.get.__doc__ = (
        f"Read the {collection.id} collection page by page, by bbox, datetime, "
        "property values or a CQL2 text filter"
    )
    ItemsViews.__name__ = f"{collection.id.title().replace('_', '')}ItemsViews"
    blp.route(f"/collections/{collection.id}/items", endpoint=endpoint)(ItemsViews)


CURSORS = {collection.id: cursor_codec(collection) for collection in COLLECTIONS.values()}
for registered in COLLECTIONS.values():
    register_items_route(registered)
