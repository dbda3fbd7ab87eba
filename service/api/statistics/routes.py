"""Statistics: device densities per district, comparisons, a hexagon grid and timelines."""

import hashlib
import re
from datetime import UTC, datetime, time, timedelta
from urllib.parse import quote

from flask import Response, current_app
from flask.views import MethodView
from marshmallow import RAISE

from ...caching import ALL_DEVICES, area_keys, district_key, share
from ...db import session, time_limit
from ...delivery import accepted_media_types, conditional_response
from ...errors import BadRequest, NotFound
from ...extensions import ETAG_HEADER, Blueprint
from ...geo.districts import DEFAULT_TOLERANCE_M
from ...geo.grid import estimated_cells, reach, select_grid, unsuitable_bbox, utm_srid
from ...geo.statements import StatementRegistry
from ...geo.statistics.csv import select_density_csv
from ...geo.statistics.density import (
    DensityQuery,
    select_codes,
    select_district_credits,
    select_known_codes,
    select_selection_exists,
)
from ...geo.statistics.documents import select_density_geojson, select_density_json
from ...geo.statistics.kept import answered_by_kept_lines
from ...geo.statistics.replay import (
    MAX_KEPT_DEVICES_PER_REQUEST,
    MAX_KEPT_PER_REQUEST,
    select_devices_to_keep,
)
from ...geo.statistics.selection import DistrictSelection, StatisticsFilter
from ...geo.statistics.timeline import select_timeline
from ...geo.view_cones import ViewModel
from ..credits import declared_credits, device_credits, with_credit_headers
from ..fields import split_antimeridian
from ..geojson import GEOJSON, JSON, compact_json, feature_collection
from .cache import cached, refresh_stale_lines, refresh_timelines_of
from .schemas import (
    CSV,
    MEDIA_TYPES,
    CompareArgsSchema,
    DensityStatsSchema,
    DistrictStatsArgsSchema,
    GridArgsSchema,
    GridSchema,
    TimelineArgsSchema,
    TimelineSchema,
)

# Density statements by request (their values are part of the key), the least used dropped.
DENSITY_STATEMENTS = StatementRegistry(max_statements=256)
GRID_STATEMENTS = StatementRegistry(max_statements=256)
DEFAULT_CELL_M = 250.0
BYTE_ORDER_MARK = "\ufeff"
MAX_GRID_CELLS = 200_000

blp = Blueprint(
    "statistics",
    __name__,
    url_prefix="/api/v1/stats",
    description="Device densities per district, for researchers: JSON, GeoJSON or CSV, "
    "with attribution.",
)


def seconds_to_midnight() -> int:
    """Seconds until the next day begins in UTC (the sessions' time zone)."""
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), time.min, UTC)
    return max(1, int((midnight - now).total_seconds()))


def share_statistics(keys: list[str], args: dict, *, today: bool = False) -> None:
    """Statistics are exact the moment a change commits (docs/statistics.md), and so is every
    cache's copy: shared caches keep them until a purge names one of their districts or
    areas, per format asked by Accept; browsers, which no purge reaches, ask again each time
    (a 304 while nothing changed).

    Some figures also change with devices that no purge of their districts names: declared
    figures (a site matches devices up to its distance away; list imports), watched areas (a
    camera next door looks in) and the devices outside every district (`outside`). Shared
    caches ask again for those each time too.

    TODAY: the answer also changes when the day does (a timeline's last period), which no purge
    follows: shared caches keep it until midnight UTC at most.
    """
    named = not any(args.get(name) for name in ("declared", "watched", "outside"))
    until = seconds_to_midnight() if today else None
    share(keys if named else [ALL_DEVICES], vary=("Accept",), exact=True, shared_max_age=until)


def statistics_filter(args: dict, bbox=None) -> StatisticsFilter:
    return StatisticsFilter(
        kinds=list(args.get("kind", ())),
        statuses=list(args.get("status", ())),
        operator_types=list(args.get("operator_type", ())),
        verifications=list(args.get("verification", ())),
        at=args.get("at"),
        bboxes=split_antimeridian(bbox) if bbox else [],
    )


# Options that shape one format only (the format, its name): asked of another, they would be
# silently ignored.
FORMAT_OPTIONS = {"bom": ("csv", "CSV"), "tolerance": ("geojson", "GeoJSON")}


def chosen_format(args: dict) -> str:
    """`f=` wins; else the Accept header (parameters aside); else JSON. An option of another
    format is a 400 naming it: the researcher expected it to apply."""
    if args.get("f"):
        fmt = args["f"]
    else:
        best = accepted_media_types().best_match(list(MEDIA_TYPES.values()), default=None)
        fmt = next((name for name, media in MEDIA_TYPES.items() if media == best), "json")
    for option, (applies_to, name) in FORMAT_OPTIONS.items():
        if option in args and args[option] is not False and fmt != applies_to:
            raise BadRequest(f"{option}= applies to {name} only: ask f={applies_to}.", field=option)
    return fmt


def attachment(filename: str, disposition: str = "attachment") -> str:
    """A Content-Disposition naming FILENAME, built from the request's codes (any text): an
    ASCII fallback without quotes or separators, and the name itself in RFC 8187's form (the
    two alike when the name is ASCII)."""
    fallback = re.sub(r"[^A-Za-z0-9._+-]", "_", filename)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='+')}"


def statistics_response(
    body: str, fmt: str, computed_at, source: str, attribution, name: str, args: dict
):
    """BODY as FMT, saved under NAME with the filters and options of ARGS (download_name), a
    CSV begun with a byte order mark when `bom=true`."""
    if fmt == "csv" and args.get("bom"):
        body = BYTE_ORDER_MARK + body
    name = download_name(name, args)
    # An ETag of the bytes: Last-Modified alone counts seconds, and two changes may fall in one.
    response = conditional_response(body, MEDIA_TYPES[fmt])
    if fmt == "csv":
        response.mimetype = CSV
        response.headers["Content-Type"] = "text/csv; charset=utf-8; header=present"
        response.headers["Content-Disposition"] = attachment(f"{name}.csv")
    else:
        # Shown by a browser, saved under a name of its own (`curl -OJ`, `wget
        # --content-disposition`): two downloads must not overwrite each other.
        response.headers["Content-Disposition"] = attachment(f"{name}.{fmt}", "inline")
    response.last_modified = computed_at
    response.headers["X-Statistics-Computed-At"] = computed_at.isoformat()
    response.headers["X-Cache"] = source
    return with_credit_headers(response, attribution)


# The parameters that change a statistic's figures, named in a download's file name: two
# downloads of the same districts under other filters (`curl -OJ`) must not overwrite each
# other.
NAMED_FILTERS = ("kind", "status", "operator_type", "verification")


# Options that add columns or order the rows otherwise, named in the file name too.
NAMED_OPTIONS = ("declared", "watched", "outside")


# The longest file name a download gets, in UTF-8 bytes (systems refuse names past 255), ".csv"
# aside; a longer one is cut, and ends with a hash of the whole, so that two stay apart.
MAX_NAME_BYTES = 150


def download_name(name: str, args: dict) -> str:
    """NAME with the filters and options ARGS give (each value once, in one order: the same
    figures, the same name), and the day of `at` (the map at the end of it)."""
    parts = [name]
    for filter_name in NAMED_FILTERS:
        if args.get(filter_name):
            parts.append(f"{filter_name}-{'+'.join(sorted(set(args[filter_name])))}")
    parts += [option for option in NAMED_OPTIONS if args.get(option)]
    if args.get("rank_by"):
        parts.append(f"rank_by-{args['rank_by']}")
    if args.get("tolerance") is not None:
        parts.append(f"tolerance-{args['tolerance']!r}")
    if args.get("at"):
        parts.append(f"at-{args['at'].date().isoformat()}")
    whole = "-".join(parts)
    if len(whole.encode()) <= MAX_NAME_BYTES:
        return whole
    digest = hashlib.blake2b(whole.encode(), digest_size=5).hexdigest()
    return f"{whole.encode()[: MAX_NAME_BYTES - 11].decode(errors='ignore')}-{digest}"


def density_response(query: DensityQuery, args: dict, name: str) -> Response:
    fmt = chosen_format(args)
    credits = device_credits() + (declared_credits() if query.declared else [])
    tolerance = args.get("tolerance", DEFAULT_TOLERANCE_M)
    build = {
        "json": lambda: select_density_json(query, credits),
        "geojson": lambda: select_density_geojson(query, credits, tolerance),
        "csv": lambda: select_density_csv(query),
    }[fmt]
    # Built once per distinct request (values included): building and compiling the statement
    # costs more than running it on a small selection.
    key = (fmt, repr(query), repr(credits), tolerance if fmt == "geojson" else None)
    statement = DENSITY_STATEMENTS.get(key, build)

    def compute() -> str:
        if answered_by_kept_lines(query):
            refresh_stale_lines()
        if query.filter.at is not None and not query.filter.bboxes:
            keep_timelines_within_reach(query.selection)
        return run_bounded(statement, query)

    body, computed_at, source = cached(fmt, compute)
    attribution = session.execute(
        select_district_credits(query.selection.clauses(), credits)
    ).scalar_one()
    return statistics_response(body, fmt, computed_at, source, attribution, name, args)


def keep_timelines_within_reach(selection: DistrictSelection) -> None:
    """Before a map at a date: keep the timelines of the selected districts, which it then adds
    up, when they are few enough to replay now (MAX_KEPT_PER_REQUEST districts and
    MAX_KEPT_DEVICES_PER_REQUEST devices not kept yet); replay the marked devices anyway."""
    codes = session.execute(select_codes(selection, MAX_KEPT_PER_REQUEST + 1)).scalars().all()
    within_reach = len(codes) <= MAX_KEPT_PER_REQUEST and (
        session.execute(select_devices_to_keep(codes)).scalar_one() <= MAX_KEPT_DEVICES_PER_REQUEST
    )
    refresh_timelines_of(codes if within_reach else [])


def run_bounded(statement, query: DensityQuery) -> str:
    """Run a density statement; the watched areas (a union of cones per district) may take
    long on a large selection, so they get STATS_WATCHED_TIMEOUT_MS at most."""
    if query.view_model is None:
        return session.execute(statement).scalar_one()
    too_long = BadRequest(
        "Computing the watched areas of so many districts and devices takes too long: "
        "ask for fewer districts (a parent, or compare) or leave out watched=true.",
        field="watched",
    )
    with time_limit(current_app.config["STATS_WATCHED_TIMEOUT_MS"], too_long):
        return session.execute(statement).scalar_one()


def density_query(selection: DistrictSelection, args: dict, **kwargs) -> DensityQuery:
    if args.get("declared") and args.get("at"):
        raise BadRequest(
            "The declared figures compare the lists with the map now: leave out `at`.",
            field="at",
        )
    return DensityQuery(
        selection=selection,
        filter=statistics_filter(args),
        rank_by=args.get("rank_by", "per_km2"),
        view_model=ViewModel.from_config(current_app.config) if args.get("watched") else None,
        declared=args.get("declared", False),
        **kwargs,
    )


# What every statistic's answer carries besides its figures (statistics_response).
STATISTICS_HEADERS = {
    **ETAG_HEADER,
    "Last-Modified": {"schema": {"type": "string"}},
    "X-Statistics-Computed-At": {
        "schema": {"type": "string", "format": "date-time"},
        "description": "When the figures were computed (RFC 3339)",
    },
    "X-Cache": {
        "schema": {"type": "string", "enum": ["hit", "miss"]},
        "description": "hit: from the statistics cache, computed after the last change",
    },
    "X-Attribution": {"schema": {"type": "string"}, "description": "Credit lines (ASCII)"},
    "X-Licence": {"schema": {"type": "string"}, "description": "Licences of the data"},
    "Content-Disposition": {
        "schema": {"type": "string"},
        "description": "The file name the answer is saved under (the selection, filters and "
        "options; `attachment` for CSV, `inline` otherwise)",
    },
}
NOT_MODIFIED = "Not modified since the ETag in If-None-Match"


def document_formats(description: str, json_schema: str, **others: dict):
    """The 200 answer's other formats (f= or Accept: OTHERS, by media type), beside its JSON."""
    json = {JSON: {"schema": {"$ref": f"#/components/schemas/{json_schema}"}}}
    content = json | others
    return blp.doc(
        responses={
            "200": {"description": description, "headers": STATISTICS_HEADERS, "content": content}
        }
    )


def csv_of(description: str) -> dict:
    return {CSV: {"schema": {"type": "string", "description": description}}}


# The same figures as GeoJSON or CSV, beside the JSON.
document_density_formats = document_formats(
    "The figures as JSON, GeoJSON or CSV",
    "DensityStats",
    **{
        GEOJSON: {
            "schema": {
                "type": "object",
                "description": "FeatureCollection of the district polygons with the "
                "figures as flat properties (the counts by vocabulary value as "
                "integers: kind_camera, status_active...), plus totals and attribution",
            }
        }
    },
    **csv_of("One row per district, columns named as the JSON fields"),
)


@blp.route("/districts")
class DistrictStatsViews(MethodView):
    @blp.arguments(DistrictStatsArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, DensityStatsSchema, headers=STATISTICS_HEADERS)
    @blp.alt_response(304, description=NOT_MODIFIED)
    @document_density_formats
    @blp.problems(400, 404)
    def get(self, args):
        """Give device counts and densities for every district of a level and/or parent"""
        selection = DistrictSelection(
            levels=[args["level"]] if args.get("level") else [],
            parents=list(args.get("parent", ())),
        )
        if not session.execute(select_selection_exists(selection)).scalar_one():
            several = "," in args.get("level", "")
            raise NotFound(
                "No district matches this level and parent; see GET /api/v1/districts."
                + (" `level` takes one level: ask for each apart." if several else ""),
                field="level" if several or not args.get("parent") else "parent",
            )
        parents = args.get("parent", ())
        share_statistics(
            [district_key(code) for code in parents] if parents else [ALL_DEVICES], args
        )
        # The same parents in any order: the same figures, the same name.
        name = "-".join(["districts", *selection.levels, *sorted(set(selection.parents))])
        query = density_query(selection, args, report_outside=args.get("outside", False))
        return density_response(query, args, name)


@blp.route("/compare")
class CompareViews(MethodView):
    @blp.arguments(CompareArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, DensityStatsSchema, headers=STATISTICS_HEADERS)
    @blp.alt_response(304, description=NOT_MODIFIED)
    @document_density_formats
    @blp.problems(400, 404)
    def get(self, args):
        """Give the same figures side by side for several districts of any level"""
        codes = list(dict.fromkeys(args["codes"]))
        known = set(session.execute(select_known_codes(codes)).scalars())
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise NotFound(f"Unknown district codes: {', '.join(unknown)}.", field="codes")
        share_statistics([district_key(code) for code in codes], args)
        query = density_query(DistrictSelection(codes=codes), args)
        # In code order, as the districts are listed: one selection, one name. Cut, when long,
        # by download_name, which ends a cut name with a hash of the whole.
        return density_response(query, args, "-".join(["compare", *sorted(codes)]))


@blp.route("/grid")
class GridViews(MethodView):
    @blp.arguments(GridArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, GridSchema, content_type=GEOJSON, headers=STATISTICS_HEADERS)
    @blp.alt_response(304, description=NOT_MODIFIED)
    @blp.problems(400)
    def get(self, args):
        """Count devices on a hexagonal grid of a given cell size in metres, as GeoJSON"""
        bbox, cell = args["bbox"], args.get("cell", DEFAULT_CELL_M)
        unsuitable = unsuitable_bbox(bbox, cell)
        if unsuitable:
            raise BadRequest(unsuitable, field="bbox")
        if estimated_cells(bbox, cell) > MAX_GRID_CELLS:
            raise BadRequest(
                f"This bbox holds more than {MAX_GRID_CELLS} cells of {cell:g} m: "
                "zoom in or use a larger cell.",
                field="cell",
            )
        # A change anywhere in a hexagon that meets the bbox changes the answer.
        share_statistics(area_keys([reach(bbox, cell)]), args)
        srid = utm_srid(bbox)
        flt = statistics_filter(args, bbox)
        credits = device_credits()

        def compute() -> str:
            key = (repr(flt), cell)  # built once per distinct request, as densities are
            statement = GRID_STATEMENTS.get(key, lambda: select_grid(flt, bbox, cell, srid))
            row = session.execute(statement).one()
            return feature_collection(
                row.features,
                cell_m=cell,
                srid=srid,
                devices=int(row.devices),
                attribution=credits,
            )

        body, computed_at, source = cached("geojson", compute)
        corners = "_".join(repr(value) for value in bbox)  # as given: two boxes, two names
        name = f"grid-{cell:g}m-{corners}"
        return statistics_response(body, "geojson", computed_at, source, credits, name, args)


# The timeline as CSV too, beside the JSON.
document_timeline_formats = document_formats(
    "The periods as JSON or CSV",
    "Timeline",
    **csv_of(
        "One row per period: district, name, level, interval, start (its day), added, "
        "removed, count"
    ),
)


@blp.route("/timeline")
class TimelineViews(MethodView):
    @blp.arguments(TimelineArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, TimelineSchema, headers=STATISTICS_HEADERS)
    @blp.alt_response(304, description=NOT_MODIFIED)
    @document_timeline_formats
    @blp.problems(400, 404)
    def get(self, args):
        """Count a district's devices over time, as JSON or CSV, replaying history as at= does"""
        code, interval, since = args["district"], args.get("interval", "month"), args.get("since")
        share_statistics([district_key(code)], args, today=True)
        credits = device_credits()
        fmt = "csv" if chosen_format(args) == "csv" else "json"
        statement = select_timeline(
            code, interval, statistics_filter(args), credits, since=since, as_csv=fmt == "csv"
        )

        def compute() -> str:
            refresh_timelines_of([code])
            body = session.execute(statement).scalar_one_or_none()
            if body is None:
                raise NotFound(f"No district has the code {code}.", field="district")
            return body if fmt == "csv" else compact_json(body)

        # Its periods run to today's: a body of another day lacks one.
        body, computed_at, source = cached(fmt, compute, today=True)
        selection = DistrictSelection(codes=[code])
        attribution = session.execute(
            select_district_credits(selection.clauses(), credits)
        ).scalar_one()
        starting = f"-since-{since.isoformat()}" if since else ""
        name = f"timeline-{code}-{interval}{starting}"
        return statistics_response(body, fmt, computed_at, source, attribution, name, args)
