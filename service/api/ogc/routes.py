"""OGC API - Features (Part 1 core, GeoJSON, OpenAPI 3.0; Part 3 CQL2 text) at /ogc.

Every collection of the registry in service/geo/collections.py is served the same way; the
Features themselves are written by PostGIS and joined into the page without a Python loop.
"""

import logging
import os
from pathlib import Path

import flask
import orjson
from flask import Response, current_app, request, send_file, url_for
from flask.views import MethodView
from marshmallow import RAISE
from pyogrio.errors import DataLayerError, DataSourceError
from sqlalchemy import false

from ...caching import ALL_DEVICES, area_keys, device_key, district_key, share
from ...db import run_statement, session, time_limit
from ...delivery import accepted_media_types, conditional_response, file_in_ranges
from ...errors import BadRequest, InvalidInput, NotFound, ServiceUnavailable
from ...exports.geopackage import Layer, write_flatgeobuf, write_geopackage
from ...exports.kept import Download, kept_download
from ...extensions import BINARY, ETAG_HEADER, Blueprint, api
from ...geo.collections import COLLECTIONS, DEVICES, DISTRICTS, OgcCollection, PageRequest
from ...geo.cql2 import FilterError, filter_clause
from ...geo.crs import (
    CRS84,
    SUPPORTED,
    select_features_in_crs,
    select_storage_box,
    within_box_in_crs,
)
from ...geo.meta import select_data_lineage
from ...geo.statistics.density import select_known_levels
from ..credits import attribution_text, dataset_credits, device_credits, licence_links
from ..fields import common_parts
from ..geojson import (
    GEOJSON,
    JSON,
    CursorCodec,
    feature_collection,
    link,
    photo_base,
    request_uri,
    this_url_with,
)
from ..statistics.cache import data_version
from .schemas import (
    CollectionSchema,
    CollectionsSchema,
    ConformanceSchema,
    DocumentArgsSchema,
    DownloadArgsSchema,
    FeatureSchemaDocumentSchema,
    ItemArgsSchema,
    LandingPageSchema,
    NamedDownloadArgsSchema,
    OgcFeatureCollectionSchema,
    OgcFeatureSchema,
    QueryablesSchema,
    SchemaDocumentSchema,
    items_args_schema,
)

log = logging.getLogger(__name__)
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA_JSON = "application/schema+json"
# What f= names (labelled).
FORMATS = {"json": JSON, "geojson": GEOJSON}
JSON_SCHEMA_2020 = "https://json-schema.org/draft/2020-12/schema"
# Items are served as GeoJSON, or as the same body labelled application/json (labelled).
OGC_FEATURE = "#/components/schemas/OgcFeature"
OGC_FEATURE_COLLECTION = "#/components/schemas/OgcFeatureCollection"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"

CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
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


DOWNLOADS = {
    "gpkg": ("application/geopackage+sqlite3", "GeoPackage"),
    "fgb": ("application/flatgeobuf", "FlatGeobuf"),
}
DOWNLOAD_RETRY_SECONDS = 30
DOWNLOAD_CONTENTS = {media: BINARY for media, _name in DOWNLOADS.values()}
RANGES_HEADER = {
    "Accept-Ranges": {
        "schema": {"type": "string"},
        "description": "bytes: the file is read by ranges while its data is unchanged",
    }
}
CONTENT_RANGE_HEADER = {
    "Content-Range": {"schema": {"type": "string"}, "description": "The range sent, of how many"}
}
DOWNLOAD_ETAG_HEADER = {
    "ETag": {
        "schema": {"type": "string"},
        "description": "The file's validator (a hash of its bytes); absent, with Accept-Ranges, "
        "from a file written as the data changed, which is sent once and not kept",
    }
}


def json_response(document: dict, media_type: str = JSON) -> Response:
    return Response(orjson.dumps(document), mimetype=media_type)


def schema_document(
    collection: OgcCollection, args: dict, dialect: str = JSON_SCHEMA_2020, **members
) -> Response:
    """A JSON Schema about COLLECTION's features: its heading, then MEMBERS."""
    heading = {"$schema": dialect, "$id": request.base_url, "title": collection.title}
    return schema_response({**heading, "type": "object", **members}, args)


def labelled(args: dict, usual: str) -> str:
    """The media type to label a document with: USUAL (GeoJSON, JSON Schema), or
    application/json when f=json asks for it, or when Accept prefers it to USUAL (GDAL 3.6
    refuses queryables labelled otherwise; HTTP libraries often ask for JSON). An f that names
    USUAL has the last word too; any other (f=geojson on a schema: GDAL repeats its URL's
    query on every request) leaves it to Accept. The answer varies on Accept.

    Media type parameters are not compared (`application/json; charset=utf-8` is JSON).
    """
    asked = FORMATS.get(args.get("f"))
    if asked in (JSON, usual):
        return asked
    return accepted_media_types().best_match([usual, JSON], default=usual)


def schema_response(document: dict, args: dict) -> Response:
    """A JSON Schema, labelled as asked (labelled)."""
    share([], vary=("Accept",))
    return json_response(document, labelled(args, SCHEMA_JSON))


def share_items(collection: OgcCollection, bboxes) -> None:
    """Items of devices are named by their area; districts carry counts of devices anywhere.
    Labelled as the client accepts (labelled). Figures drawn from devices (a district's
    counts, a declared site's matches) are exact as the statistics API's are: no cache keeps
    them past a change."""
    devices = collection.id == DEVICES.id
    share(area_keys(bboxes) if devices else [ALL_DEVICES], vary=("Accept",), exact=not devices)


def share_item(collection: OgcCollection, key) -> None:
    """A device, a district (purged with the devices it counts), or a declared site, whose
    matches change with devices no key of its own names."""
    if collection.id == DEVICES.id:
        share([device_key(key)], vary=("Accept",))
    elif collection.id == DISTRICTS.id:
        share([district_key(key)], vary=("Accept",), exact=True)
    else:
        share([ALL_DEVICES], vary=("Accept",), exact=True)


def unknown_collection(collection_id: str) -> NotFound:
    return NotFound(f"No collection is called {collection_id!r}.", field="collection_id")


def find_collection(collection_id: str) -> OgcCollection:
    collection = COLLECTIONS.get(collection_id)
    if collection is None:
        raise unknown_collection(collection_id)
    return collection


def cursor_codec(collection: OgcCollection) -> CursorCodec:
    """Cursors of a collection: whether they page backward, then a position of its own."""
    return CursorCodec(
        bool,
        *collection.position_types,
        advice="restart from the first page.",
        check=lambda parts: collection.paging.check_position(tuple(parts[1:])),
    )


def read_cursor(collection: OgcCollection, cursor: str) -> tuple[bool, tuple]:
    """(backward, position) to page before or after a page edge."""
    backward, *position = CURSORS[collection.id].decode(cursor)
    return backward, tuple(position)


def collection_credits(
    collection: OgcCollection, from_openstreetmap: bool | None = None
) -> list[dict]:
    """Who to credit for the collection's data: its devices' sources (FROM_OPENSTREETMAP as
    device_credits takes it), and the datasets it draws from (official districts, declared
    lists)."""
    credits = device_credits(from_openstreetmap)
    if collection.datasets is not None:
        credits += dataset_credits(collection.datasets())
    return credits


def describe_collection(collection: OgcCollection) -> dict:
    base = url_for("ogc.CollectionViews", collection_id=collection.id, _external=True)
    document = {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "itemType": collection.item_type,
        "crs": list(SUPPORTED),
        "storageCrs": CRS84,
        "links": [
            link(base, "self", JSON, "This collection"),
            link(f"{base}/items", "items", GEOJSON, "Its features"),
            link(
                f"{base}/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                SCHEMA_JSON,
                "Properties to filter on",
            ),
            # The short name, which GDAL 3.6 looks for.
            link(f"{base}/queryables", "queryables", SCHEMA_JSON, "Properties to filter on"),
            link(
                f"{base}/schema",
                "http://www.opengis.net/def/rel/ogc/1.0/schema",
                SCHEMA_JSON,
                "Schema of the features' properties (Part 5)",
            ),
            # A GeoJSON Feature's schema: GIS clients take their column types from it rather
            # than guess them from the first page. GDAL 3.6 compares this rel letter by letter.
            link(
                f"{base}/feature-schema",
                "describedBy",
                SCHEMA_JSON,
                "JSON Schema of one GeoJSON Feature",
            ),
        ],
    }
    credits = collection_credits(collection)
    document["attribution"] = attribution_text(credits)
    document["links"] += licence_links(credits)
    if collection.export_rows is not None:
        document["links"] += [
            link(f"{base}/download.{fmt}", "enclosure", media, f"Every feature as {name}")
            for fmt, (media, name) in DOWNLOADS.items()
        ]
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
    @blp.arguments(DocumentArgsSchema, location="query", unknown=RAISE)
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
                        url_for("ogc.ApiDefinitionViews", _external=True),
                        "service-desc",
                        OPENAPI,
                        "The API definition (OpenAPI 3.0), its paths relative to this page",
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


# OWSLib asks for the landing page with a trailing slash. Flask's own add_url_rule: the same
# operation is not documented twice.
flask.Blueprint.add_url_rule(blp, "/", view_func=LandingPageViews.as_view("landing_page_slash"))


def ogc_openapi(spec: dict, root: str) -> dict:
    """The OGC API part of SPEC, its paths relative to ROOT (the landing page) as `servers`.

    Clients (GDAL, QGIS, OWSLib) look up `/collections/{id}/items` in the API definition to
    learn which parameters the server filters on: in the whole API's, whose paths start with
    /ogc, they found none, and filtered on their side after downloading everything.
    """
    prefix = blp.url_prefix
    paths = {
        path[len(prefix) :] or "/": operations
        for path, operations in spec["paths"].items()
        if path == prefix or path.startswith(prefix + "/")
    }
    info = {**spec["info"], "title": "Vigie - OGC API Features"}
    paths = {
        path: {method: with_string_lists(operation) for method, operation in operations.items()}
        for path, operations in paths.items()
    }
    return {**spec, "info": info, "servers": [{"url": root}], "paths": paths}


def with_string_lists(operation):
    """OPERATION with its comma-separated parameters declared as strings (`style: form`,
    `explode: false`), the form OGC API Features Part 1 gives property filters, which QGIS
    (3.28 and later) looks for to filter on the server."""
    if not isinstance(operation, dict) or "parameters" not in operation:
        return operation
    return {**operation, "parameters": [string_list(p) for p in operation["parameters"]]}


def string_list(parameter: dict) -> dict:
    schema = parameter.get("schema", {})
    if parameter.get("explode") is not False or schema.get("type") != "array":
        return parameter
    description = parameter.get("description", "")
    values = schema.get("items", {}).get("enum")
    if values:
        description += ": " + ", ".join(values)
    return {**parameter, "description": description, "schema": {"type": "string"}}


@blp.route("/api")
class ApiDefinitionViews(MethodView):
    @blp.arguments(DocumentArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, content_type=OPENAPI)
    @blp.served_as({OPENAPI: {"type": "object"}}, description="An OpenAPI 3.0 document")
    @blp.problems(400)
    def get(self, _args):
        """Describe the OGC API alone, its paths relative to /ogc, for GIS clients"""
        root = url_for("ogc.LandingPageViews", _external=True)
        return json_response(ogc_openapi(api.spec.to_dict(), root), OPENAPI)


@blp.route("/conformance")
class ConformanceViews(MethodView):
    @blp.arguments(DocumentArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, ConformanceSchema)
    @blp.problems(400)
    def get(self, _args):
        """List the OGC conformance classes this server implements"""
        share([])
        return json_response({"conformsTo": list(CONFORMANCE)})


@blp.route("/collections")
class CollectionListViews(MethodView):
    @blp.arguments(DocumentArgsSchema, location="query", unknown=RAISE)
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


# With a trailing slash too, as the landing page: GDAL asks for `collections/devices/` when
# given an `OAPIF:` URL ending with one.
@blp.route("/collections/<collection_id>", strict_slashes=False)
class CollectionViews(MethodView):
    @blp.arguments(DocumentArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, CollectionSchema)
    @blp.problems(400, 404)
    def get(self, _args, collection_id):
        """Describe one collection, with its extent computed from the data"""
        share([ALL_DEVICES])
        return json_response(describe_collection(find_collection(collection_id)))


def served_as_json_schema(schema_name: str):
    """A JSON Schema document: application/schema+json, or application/json (schema_response)."""
    return blp.served_as(
        {media: {"$ref": f"#/components/schemas/{schema_name}"} for media in (SCHEMA_JSON, JSON)}
    )


@blp.route("/collections/<collection_id>/queryables")
class QueryablesViews(MethodView):
    @blp.arguments(DocumentArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, QueryablesSchema, content_type=SCHEMA_JSON)
    @served_as_json_schema("Queryables")
    @blp.problems(400, 404)
    def get(self, args, collection_id):
        """List the properties a CQL2 filter (or a property parameter) may use"""
        collection = find_collection(collection_id)
        queryables = collection.queryables.items()
        return schema_document(
            collection,
            args,
            "https://json-schema.org/draft/2019-09/schema",
            properties={name: queryable.json_schema(name) for name, queryable in queryables},
            additionalProperties=False,
            # The list of the draft standard, the one GDAL 3.6 reads.
            queryables=[{"id": name, "type": queryable.type} for name, queryable in queryables],
        )


@blp.route("/collections/<collection_id>/schema")
class SchemaViews(MethodView):
    @blp.arguments(DocumentArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, SchemaDocumentSchema, content_type=SCHEMA_JSON)
    @served_as_json_schema("SchemaDocument")
    @blp.problems(400, 404)
    def get(self, args, collection_id):
        """Describe the properties of the collection's features, with their types (Part 5)"""
        collection = find_collection(collection_id)
        return schema_document(collection, args, properties=collection.returnables_schema())


@blp.route("/collections/<collection_id>/feature-schema")
class FeatureSchemaViews(MethodView):
    @blp.arguments(DocumentArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, FeatureSchemaDocumentSchema, content_type=SCHEMA_JSON)
    @served_as_json_schema("FeatureSchemaDocument")
    @blp.problems(400, 404)
    def get(self, args, collection_id):
        """Describe one GeoJSON Feature of the collection as a JSON Schema, for GIS clients"""
        collection = find_collection(collection_id)
        return schema_document(
            collection,
            args,
            required=["type", "geometry", "properties"],
            properties={
                "type": {"type": "string", "enum": ["Feature"]},
                "id": {"type": "string"},
                "geometry": {"$ref": collection.geometry_schema},
                "properties": {"type": "object", "properties": collection.properties_schema},
            },
        )


@blp.route("/collections/<collection_id>/items/<feature_id>")
class ItemViews(MethodView):
    @blp.arguments(ItemArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, OgcFeatureSchema, content_type=GEOJSON)
    @blp.served_as(
        {media: {"$ref": OGC_FEATURE} for media in (GEOJSON, JSON)},
        headers=ETAG_HEADER,
    )
    @blp.alt_response(304, description="Not modified since the ETag in If-None-Match")
    @blp.problems(400, 404)
    def get(self, args, collection_id, feature_id):
        """Read one feature of a collection"""
        collection = find_collection(collection_id)
        try:
            key = collection.key_type(feature_id)
        except ValueError as exc:
            raise NotFound(f"No feature has the id {feature_id!r}.", field="feature_id") from exc
        share_item(collection, key)
        feature = session.execute(
            collection.select_item(key), {"photo_base": photo_base()}
        ).scalar_one_or_none()
        if feature is None:
            raise NotFound(f"No feature has the id {feature_id!r}.", field="feature_id")
        collection_url = url_for("ogc.CollectionViews", collection_id=collection.id, _external=True)
        media_type = labelled(args, GEOJSON)
        # The self link names the label: each label's body, and so its ETag, is its own.
        links = [
            link(request_uri(), "self", media_type, "This feature"),
            other_label_link(media_type, "This feature"),
            link(collection_url, "collection", JSON, collection.title),
            # Its sources, as its pages credit them (OpenStreetMap's, under the ODbL).
            *licence_links(collection_credits(collection)),
        ]
        feature = features_in_crs(feature, args.get("crs"))
        body = f'{feature[:-1]},"links":{orjson.dumps(links).decode()}}}'
        response = conditional_response(body, media_type)
        return with_crs(response, args.get("crs"))


def filter_conditions(collection: OgcCollection, args: dict) -> list:
    """Clauses of the property parameters and of the CQL2 filter."""
    conditions = [
        collection.queryables[name].expression.in_(args[name])
        for name in collection.property_filters
        if args.get(name)
    ]
    languages = set(args.get("filter_lang", ["cql2-text"]))
    if len(languages) > 1:
        raise BadRequest(
            "Every filter of a request is in one language: give filter-lang once.",
            field="filter-lang",
        )
    crs = SUPPORTED[args.get("filter_crs", CRS84)]
    try:
        conditions += [
            filter_clause(text, *languages, collection.queryables, crs)
            for text in args.get("filter", [])
        ]
    except FilterError as exc:
        raise InvalidInput(str(exc), field="filter") from exc
    return conditions


def paging_links(
    collection: OgcCollection, page, backward: bool | None, position, media_type: str
) -> list[dict]:
    """next/prev links around a page read forward or backward from POSITION (None: the start),
    served as MEDIA_TYPE like the page (their URLs keep its `f`)."""
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
    return [link(this_url_with(cursor=cursor), rel, media_type) for rel, cursor in links]


def boxes_and_conditions(collection: OgcCollection, args: dict) -> tuple[list, list]:
    """The EPSG:4326 boxes and the conditions of a request, its bboxes in whatever CRS: a
    feature lies in every bbox given."""
    conditions = filter_conditions(collection, args)
    if "bbox" not in args:
        return [], conditions
    crs = SUPPORTED[args.get("bbox_crs", CRS84)]
    boxes = []
    for bbox in args["bbox"]:
        if crs.srid == 4326:  # the same box, latitude first: across the antimeridian alike
            boxes.append((bbox[1], bbox[0], bbox[3], bbox[2]) if crs.latitude_first else bbox)
            continue
        box, condition = storage_box_and_condition(collection, bbox, crs)
        boxes.append(box)
        conditions.append(condition)
    common = common_parts(boxes)
    if not common:  # boxes apart: nothing, found at once in a box of one point
        west, south = boxes[0][:2]
        return [(west, south, west, south)], [*conditions, false()]
    return common, conditions


def storage_box_and_condition(collection: OgcCollection, bbox, crs) -> tuple[tuple, object]:
    """The EPSG:4326 box around BBOX of CRS, which lets the index work, and the exact test
    of a geometry in BBOX, in its own CRS."""
    bbox = crs.part_in_area_of_use(bbox)
    if bbox is None:
        x0, y0, x1, y1 = crs.extent
        raise BadRequest(
            f"This bbox lies outside the area of use of {crs.uri}: x {x0}..{x1}, y {y0}..{y1}.",
            field="bbox",
        )
    box = session.execute(select_storage_box(bbox, crs)).one()
    if box.west is None:
        raise BadRequest("This bbox lies outside the area of its CRS.", field="bbox")
    west, south = max(box.west, -180.0), max(box.south, -90.0)
    east, north = min(box.east, 180.0), min(box.north, 90.0)
    return (west, south, east, north), within_box_in_crs(collection.geometry, bbox, crs)


def features_in_crs(features: str, crs_uri: str | None) -> str:
    """Feature texts (joined by commas) with their geometries in the CRS asked."""
    crs = SUPPORTED[crs_uri or CRS84]
    if crs.is_storage or not features:
        return features
    return session.execute(select_features_in_crs(features, crs)).scalar_one()


def with_crs(response: Response, crs_uri: str | None) -> Response:
    response.headers["Content-Crs"] = f"<{crs_uri or CRS84}>"
    return response


def items_response(collection: OgcCollection, args: dict) -> Response:
    if "datetime" in args and collection.temporal is None:
        # Ignored, it would pass today's features (districts: today's figures) for that time's.
        raise BadRequest(
            f"The {collection.id} collection has no time: its features are as they are now. "
            "Drop datetime (figures at a date: /api/v1/stats/districts?at=).",
            field="datetime",
        )
    backward, position = (
        read_cursor(collection, args["cursor"]) if "cursor" in args else (None, None)
    )
    bboxes, conditions = boxes_and_conditions(collection, args)
    asked = PageRequest(
        bboxes=bboxes,
        interval=args.get("datetime"),
        conditions=conditions,
        limit=args["limit"],
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
    media_type = labelled(args, GEOJSON)
    credits = collection_credits(collection, page.from_openstreetmap)
    links = [
        link(request_uri(), "self", media_type, "This page"),
        other_label_link(media_type, "This page"),
        link(
            url_for("ogc.CollectionViews", collection_id=collection.id, _external=True),
            "collection",
            JSON,
            collection.title,
        ),
        *paging_links(collection, page, backward, position, media_type),
        *licence_links(credits),
    ]
    body = feature_collection(
        features_in_crs(page.features, args.get("crs")),
        numberReturned=page.returned,
        numberMatched=matched,
        # Every source, those with no licence to link too (the districts' populations).
        attribution=attribution_text(credits),
        links=links,
    )
    return with_crs(conditional_response(body, media_type), args.get("crs"))


def other_label_link(media_type: str, what: str) -> dict:
    """The `alternate` link Part 1 asks of a feature or a page: the same answer under the other
    JSON label (`f=json` or `f=geojson`)."""
    other = GEOJSON if media_type == JSON else JSON
    url = this_url_with(f="geojson" if other == GEOJSON else "json")
    return link(url, "alternate", other, f"{what} as {other}")


def register_items_route(collection: OgcCollection) -> None:
    """Serve a collection's items, with a parameter schema naming its own property filters."""
    endpoint = f"{collection.id}_items"

    class ItemsViews(MethodView):
        @blp.arguments(items_args_schema(collection), location="query", unknown=RAISE)
        @blp.response(200, OgcFeatureCollectionSchema, content_type=GEOJSON)
        @blp.served_as({media: {"$ref": OGC_FEATURE_COLLECTION} for media in (GEOJSON, JSON)})
        @blp.alt_response(304, description="Not modified since the ETag in If-None-Match")
        @blp.problems(400)
        def get(self, args):
            return items_response(collection, args)

    ItemsViews.get.__doc__ = (
        f"Read the {collection.id} collection page by page, by bbox, datetime, "
        "property values or a CQL2 text filter"
    )
    ItemsViews.__name__ = f"{collection.id.title().replace('_', '')}ItemsViews"
    blp.route(f"/collections/{collection.id}/items", endpoint=endpoint, strict_slashes=False)(
        ItemsViews
    )


CURSORS = {collection.id: cursor_codec(collection) for collection in COLLECTIONS.values()}
for registered in COLLECTIONS.values():
    register_items_route(registered)


def unknown_collection_items(collection_id: str):
    """The items of no collection: the 404 naming collection_id, as for the collection itself
    (Flask matches the route of each collection's own items first)."""
    raise unknown_collection(collection_id)


# Flask's own add_url_rule: no operation of the API definition, only its 404.
flask.Blueprint.add_url_rule(
    blp,
    "/collections/<collection_id>/items",
    view_func=unknown_collection_items,
    strict_slashes=False,
)


def kept_collection_file(collection: OgcCollection, fmt: str, levels) -> Download:
    """COLLECTION's download as FMT (of district LEVELS), kept while the data is unchanged.

    A disk that cannot take it (full, not writable), or a wait past DOWNLOAD_WAIT_SECONDS for
    another request writing it, is a 503 with Retry-After: the next try may find it kept."""
    statement = collection.export_rows(level=levels)
    credits = attribution_text(collection_credits(collection))
    layer = Layer(collection.id, collection.geometry_type, statement, {"attribution": credits})

    def write(path: Path) -> None:
        try:
            if fmt == "gpkg":
                write_geopackage(session.connection(), path, [layer])
            else:
                write_flatgeobuf(session.connection(), path, layer)
        except (DataSourceError, DataLayerError) as error:  # GDAL's: a full disk among them
            raise OSError(f"GDAL could not write the file: {error}") from error

    # The file also says who to credit, which the configuration may change between runs, and
    # comes from this database's history (a database made anew, or restored, has another).
    lineage = session.execute(select_data_lineage()).scalar_one()
    config = current_app.config
    try:
        return kept_download(
            Path(config["DOWNLOADS_ROOT"]),
            orjson.dumps([lineage, collection.id, fmt, sorted(levels), credits]).decode(),
            data_version,
            f".{fmt}",
            write,
            # No connection held idle in a transaction while another request writes the file.
            before_waiting=session.rollback,
            wait_seconds=config["DOWNLOAD_WAIT_SECONDS"],
        )
    except OSError as error:  # TimeoutError among them
        log.warning("Download of %s not served: %s", collection.id, error)
        raise ServiceUnavailable(
            "The file of this download cannot be written now; retry shortly.",
            headers={"Retry-After": str(DOWNLOAD_RETRY_SECONDS)},
        ) from error


def documented_as_download(get):
    """The responses of a download, whichever of its two URLs is asked."""
    get = blp.problems(400, 404, 412, 416, 503)(get)
    get = blp.alt_response(304, description="Not modified since the ETag in If-None-Match")(get)
    get = blp.served_as(
        DOWNLOAD_CONTENTS,
        status=206,
        description="The byte range asked in Range (and, with If-Range, of that ETag's file)",
        headers=ETAG_HEADER | RANGES_HEADER | CONTENT_RANGE_HEADER,
    )(get)
    get = blp.served_as(
        DOWNLOAD_CONTENTS,
        description="A GeoPackage, or a FlatGeobuf, of every public feature",
        headers=DOWNLOAD_ETAG_HEADER | RANGES_HEADER,
    )(get)
    return blp.response(200, content_type="application/geopackage+sqlite3")(get)


@blp.route("/collections/<collection_id>/download")
class DownloadViews(MethodView):
    # Its requests are documented with Range and the preconditions (shared_headers.py), and
    # count against RATE_LIMIT_DOWNLOADS rather than the default limit (ratelimit.py).
    read_by_ranges = True

    @blp.arguments(DownloadArgsSchema, location="query", unknown=RAISE)
    @documented_as_download
    def get(self, args, collection_id):
        """Download every feature of a collection as one GeoPackage or FlatGeobuf file"""
        return download_response(collection_id, args)


@blp.route("/collections/<collection_id>/download.<any(gpkg, fgb):extension>")
class NamedDownloadViews(MethodView):
    """The same file at a URL that ends as its name does: GDAL, and QGIS through it, tell a
    file's format by its extension, and warn of a "non conformant file extension" without."""

    read_by_ranges = True

    @blp.arguments(NamedDownloadArgsSchema, location="query", unknown=RAISE)
    @documented_as_download
    def get(self, args, collection_id, extension):
        """Download every feature of a collection as a file named by its extension"""
        return download_response(collection_id, {**args, "f": extension})


def download_response(collection_id: str, args: dict):
    """COLLECTION_ID's file in the format ARGS["f"], whole or in the range asked."""
    collection = find_collection(collection_id)
    if collection.export_rows is None:
        raise NotFound(f"The {collection.id} collection has no download.", field="collection_id")
    for name in sorted(set(args) - {"f"} - collection.download_filters):
        raise BadRequest(
            f"The {collection.id} collection's download is not narrowed by {name} "
            "(the districts' is, by level).",
            field=name,
        )
    levels = args.get("level", ())
    known = set(session.execute(select_known_levels(list(levels))).scalars()) if levels else ()
    unknown = [level for level in levels if level not in known]
    if unknown:
        raise NotFound(
            f"No district has the level {', '.join(unknown)}; see GET /api/v1/districts.",
            field="level",
        )
    media_type, _name = DOWNLOADS[args["f"]]
    download = kept_collection_file(collection, args["f"], levels)
    response = send_file(
        download.file,
        mimetype=media_type,
        as_attachment=True,
        download_name=f"vigie-{collection.id}.{args['f']}",
        conditional=False,
        etag=False,
    )
    # Its length, for clients to show their progress and tell a download cut short. A kept
    # file is named by its ETag: byte ranges of it and 304s are honoured; one written for this
    # answer only offers neither, as no later request could name it.
    size = os.fstat(download.file.fileno()).st_size
    response.content_length = size
    return file_in_ranges(response, download.etag, size)
