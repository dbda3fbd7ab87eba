"""Declared versus observed, per district: one statement the statistics attach when asked.

A site counts in the selected district that holds it (on a border shared by districts of one
level, or where they overlap, in the one with the smallest code unless another's interior holds
it too, as devices do; districts of another level count it too).
Per district:

- declared_sites: the sites of every declared list; declared_devices: the devices they declare;
- matched: the declared devices found (per site, at most as many as it declares);
- unverified: the sites where no device was found;
- undeclared: the devices counted in the district (under the statistic's filters) that match no
  site; declared_coverage: matched / declared_devices.
"""

from geoalchemy2 import Geometry
from sqlalchemy import Float, Integer, Numeric, case, cast, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from ...models import DeclaredMatch, DeclaredSite, Device, District

FIGURES = (
    "declared_sites",
    "declared_devices",
    "matched",
    "unverified",
    "undeclared",
    "declared_coverage",
)
# Around the selected districts, where a site may be matched by a device inside them: the
# largest matching distance (1000 m) up to 70° of latitude.
NEAR_DEGREES = 0.03


def counted_in(district, point, others, others_clauses=()) -> ColumnElement:
    """The border rule: POINT counts in DISTRICT (code, level and geom columns) when its
    interior holds it, or when no other selected district of its level with a smaller code
    (OTHERS, of OTHERS_CLAUSES) holds it: on a shared border, and where districts of one
    level overlap, as devices count (held_by_a_smaller_one, service/geo/statistics)."""
    in_a_smaller_one = exists().where(
        others.level == district.level,
        others.code < district.code,
        func.ST_Intersects(others.geom, point),
        *others_clauses,
    )
    return or_(func.ST_Contains(district.geom, point), ~in_a_smaller_one)


def select_declared_figures(sel, selection_clauses, device_clauses: list):
    """Per selected district (SEL: code, geom; SELECTION_CLAUSES(table) selects them), the
    declared figures but `undeclared`: `declared_observed` (devices of DEVICE_CLAUSES that
    match a site) stands in for it."""
    found = (
        select(DeclaredMatch.site_id, cast(func.count(), Integer).label("n"))
        .group_by(DeclaredMatch.site_id)
        .subquery("found")
    )
    other = sel.alias("other_selected").c
    sites = (
        select(
            sel.c.code,
            DeclaredSite.declared_count,
            func.least(func.coalesce(found.c.n, 0), DeclaredSite.declared_count).label("n"),
        )
        .select_from(sel)
        .join(DeclaredSite, func.ST_Intersects(sel.c.geom, DeclaredSite.geom))
        .outerjoin(found, found.c.site_id == DeclaredSite.id)
        .where(counted_in(sel.c, DeclaredSite.geom, other))
        .subquery("sited")
    )
    per_site = (
        select(
            sites.c.code,
            func.count().label("declared_sites"),
            func.sum(sites.c.declared_count).label("declared_devices"),
            func.sum(sites.c.n).label("matched"),
            func.count().filter(sites.c.n == 0).label("unverified"),
        )
        .group_by(sites.c.code)
        .subquery("per_site")
    )
    # The devices matching a site near the selection (a device inside may match a site just
    # outside), each placed in its own district: a few lookups per site, however many devices
    # the districts hold.
    near = func.ST_SetSRID(
        cast(func.ST_Expand(func.ST_Extent(sel.c.geom), NEAR_DEGREES), Geometry), 4326
    )
    matching = (
        select(DeclaredMatch.device_id)
        .join(DeclaredSite, DeclaredSite.id == DeclaredMatch.site_id)
        .where(DeclaredSite.geom.op("&&")(select(near).scalar_subquery()))
        .distinct()
        .subquery("matching")
    )
    # In space order, so that consecutive devices fall in the same district, whose polygon
    # PostGIS then prepares once.
    matched = (
        select(Device.id, Device.geom)
        .select_from(matching)
        .join(Device, Device.id == matching.c.device_id)
        .where(*device_clauses)
        .order_by(Device.tile_key)
        .cte("matched_devices")
        .prefix_with("MATERIALIZED")
    )
    district, other_district = aliased(District), aliased(District)
    observed = (
        select(district.code)
        .select_from(matched)
        .join(district, func.ST_Intersects(district.geom, matched.c.geom))
        .where(
            *selection_clauses(district),
            counted_in(district, matched.c.geom, other_district, selection_clauses(other_district)),
        )
        .subquery("observed")
    )
    per_device = (
        select(observed.c.code, func.count().label("declared_observed"))
        .group_by(observed.c.code)
        .subquery("per_device")
    )
    return (
        select(
            sel.c.code,
            func.coalesce(per_site.c.declared_sites, 0).label("declared_sites"),
            func.coalesce(per_site.c.declared_devices, 0).label("declared_devices"),
            func.coalesce(per_site.c.matched, 0).label("matched"),
            func.coalesce(per_site.c.unverified, 0).label("unverified"),
            func.coalesce(per_device.c.declared_observed, 0).label("declared_observed"),
        )
        .select_from(sel)
        .outerjoin(per_site, per_site.c.code == sel.c.code)
        .outerjoin(per_device, per_device.c.code == sel.c.code)
        .cte("declared")
        .prefix_with("MATERIALIZED")
    )


COUNTED = FIGURES[:-1]


def declared_columns(declared, count) -> list[ColumnElement]:
    """The counts beside a district's COUNT of devices, from DECLARED."""
    return [
        declared.c.declared_sites,
        declared.c.declared_devices,
        declared.c.matched,
        declared.c.unverified,
        (count - declared.c.declared_observed).label("undeclared"),
    ]


def has_declared_figures(rows) -> bool:
    """Whether ROWS carry declared_columns (the statistic asked for them)."""
    return "declared_sites" in rows.c


def declared_pairs(source, *, sum_them: bool = False) -> list[tuple[str, ColumnElement]]:
    """The figures as JSON object members (name, value), in FIGURES' order, from SOURCE's
    declared_columns (summed: totals)."""
    values = {name: func.sum(source.c[name]) if sum_them else source.c[name] for name in COUNTED}
    share = case(
        (
            values["declared_devices"] > 0,
            func.round(
                cast(cast(values["matched"], Float) / values["declared_devices"], Numeric), 4
            ),
        )
    )
    return [*values.items(), ("declared_coverage", share)]
