"""The figures of districts as JSON and as GeoJSON, with their totals and credits."""

from sqlalchemy import Float, Select, cast, func, null, select

from ...models import District
from ..districts import boundary_geojson
from ..sql import comma_joined, feature_text, sql_string
from .density import (
    DensityQuery,
    attribution_array,
    district_figures,
    district_object,
    district_object_parts,
    ranked_object,
    totals_object,
)
from .kept import answered_by_kept_lines, kept_lines


def figure_rows(query: DensityQuery, flat: bool, watched: bool):
    """The selected districts, one row per district with its figures and rank, and each row's
    object (district_object's FLAT and WATCHED): from the objects kept at write time when they
    answer QUERY (migration 0026), else computed."""
    if not answered_by_kept_lines(query) or query.report_outside:
        sel, rows = district_figures(query)
        return sel, rows, district_object(rows, flat, watched)

    tail = "flat_tail" if flat else "json_tail"
    ranked = kept_lines(
        query,
        ("json_head", tail),
        lambda rows: district_object_parts(rows, flat, watched),
        json_objects=True,
    )
    rows = ranked.add_columns(cast(null(), Float).label("watched_km2")).cte("kept_figures")
    sel = select(District.dataset, District.population_source)
    sel = sel.where(*query.selection.clauses()).cte("selected_districts")
    return sel, rows, ranked_object(rows.c.json_head, rows.c.rank, rows.c[tail])


def document(opening: str, items, query: DensityQuery, sel, rows, credits: list[dict]) -> Select:
    """OPENING, the comma-joined ITEMS, then the totals and the attribution, as one text."""
    return select(
        func.concat(
            sql_string(opening),
            items,
            sql_string('],"totals":'),
            totals_object(query, sel, rows),
            sql_string(',"attribution":'),
            attribution_array(sel, credits),
            sql_string("}"),
        )
    )


def select_density_json(query: DensityQuery, credits: list[dict]) -> Select:
    """`{"districts": [...], "totals": {...}, "attribution": [...]}` as one text value."""
    sel, rows, district = figure_rows(query, flat=False, watched=True)
    districts = select(comma_joined(district, rows.c.code)).scalar_subquery()
    return document('{"districts":[', districts, query, sel, rows, credits)


def select_density_geojson(query: DensityQuery, credits: list[dict], tolerance_m: float):
    """A FeatureCollection of district polygons with the figures as properties (choropleths),
    the counts by vocabulary value flat (`kind_camera`) so that GIS clients type them as
    integers; `totals` keeps the JSON answer's shape."""
    sel, rows, properties = figure_rows(query, flat=True, watched=query.view_model is not None)
    feature = feature_text(func.to_json(rows.c.code), boundary_geojson(tolerance_m), properties)
    # The boundaries join the figures last: carried through the figures, 12 MB of text for every
    # commune would be gathered from workers and kept twice on the way.
    features = (
        select(comma_joined(feature, rows.c.code))
        .select_from(rows.join(District, District.code == rows.c.code))
        .scalar_subquery()
    )
    return document('{"type":"FeatureCollection","features":[', features, query, sel, rows, credits)
