"""Statements that store a version of a declared list and match its sites with devices.

A version is staged in a temporary table, compared with the stored sites (added, removed,
changed by source id), applied, and only the added and changed sites are matched again.
"""

from sqlalchemy import (
    Column,
    Date,
    Float,
    Integer,
    MetaData,
    Select,
    Table,
    Text,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.sql.elements import ColumnElement

from ...models import DeclaredDataset, DeclaredMatch, DeclaredSite, Device
from .matching import observed_clauses, reach

_staging_metadata = MetaData()

declared_staging = Table(
    "declared_staging",
    _staging_metadata,
    Column("source_id", Text, primary_key=True),
    Column("line", Integer),
    Column("lon", Float),
    Column("lat", Float),
    Column("kinds", ARRAY(Text)),
    Column("compatible_kinds", ARRAY(Text)),
    Column("declared_count", Integer),
    Column("address", Text),
    Column("commissioned", Text),
    Column("commissioned_on", Date),
    Column("attributes", JSONB),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)

# What a version may change of a site (its line in the file is not a change of the list).
COMPARED = (
    "kinds",
    "declared_count",
    "address",
    "commissioned",
    "attributes",
)


def stage_site():
    return insert(declared_staging)


def staged_point() -> ColumnElement:
    return func.ST_SetSRID(func.ST_MakePoint(declared_staging.c.lon, declared_staging.c.lat), 4326)


def select_diff(dataset_id) -> Select:
    """(source_id, change) for each site added, removed or changed by the staged version."""
    staged, site = declared_staging, DeclaredSite
    stored = select(site).where(site.dataset_id == dataset_id).subquery("stored")
    differs = or_(
        func.ST_AsBinary(stored.c.geom) != func.ST_AsBinary(staged_point()),
        *(stored.c[name].is_distinct_from(staged.c[name]) for name in COMPARED),
    )
    source_id = func.coalesce(staged.c.source_id, stored.c.source_id)
    joined = staged.join(stored, stored.c.source_id == staged.c.source_id, full=True)
    kind = case(
        (stored.c.source_id.is_(None), literal("added")),
        (staged.c.source_id.is_(None), literal("removed")),
        (differs, literal("changed")),
    )
    return (
        select(source_id.label("source_id"), kind.label("change"))
        .select_from(joined)
        .where(kind.is_not(None))
        .order_by(source_id)
    )


def delete_removed_sites(dataset_id, removed: list[str]):
    return delete(DeclaredSite).where(
        DeclaredSite.dataset_id == dataset_id,
        DeclaredSite.source_id == func.any(bindparam("removed", removed, type_=ARRAY(Text))),
    )


def site_values() -> dict:
    staged = declared_staging.c
    return {
        "line": staged.line,
        "geom": staged_point(),
        "kinds": staged.kinds,
        "compatible_kinds": staged.compatible_kinds,
        "declared_count": staged.declared_count,
        "address": staged.address,
        "commissioned": staged.commissioned,
        "commissioned_on": staged.commissioned_on,
        "attributes": staged.attributes,
    }


def update_sites(dataset_id):
    """Write the staged values over the stored sites of the same source ids."""
    return (
        update(DeclaredSite)
        .where(
            DeclaredSite.dataset_id == dataset_id,
            DeclaredSite.source_id == declared_staging.c.source_id,
        )
        .values(**site_values())
    )


def insert_added_sites(dataset_id, added: list[str]):
    staged = declared_staging.c
    values = site_values()
    rows = select(
        func.gen_random_uuid(),
        literal(dataset_id),
        staged.source_id,
        *values.values(),
    ).where(staged.source_id == func.any(bindparam("added", added, type_=ARRAY(Text))))
    return insert(DeclaredSite).from_select(["id", "dataset_id", "source_id", *values.keys()], rows)


def delete_site_matches(dataset_id, source_ids: list[str] | None):
    """Forget the matches of the dataset's sites (of these source ids; None: all)."""
    sites = select(DeclaredSite.id).where(DeclaredSite.dataset_id == dataset_id)
    if source_ids is not None:
        sites = sites.where(
            DeclaredSite.source_id == func.any(bindparam("ids", source_ids, type_=ARRAY(Text)))
        )
    return delete(DeclaredMatch).where(DeclaredMatch.site_id.in_(sites))


def match_sites(dataset_id, source_ids: list[str] | None):
    """Match the dataset's sites (of these source ids; None: all) with the observed devices.

    Each site looks up the devices' GiST index in a box around it, then keeps the devices of a
    compatible kind within the dataset's distance, measured on the sphere (as the trigger of
    migration 0014 does).
    """
    site, dataset = DeclaredSite, DeclaredDataset
    geography = func.Geography
    conditions = [
        site.dataset_id == dataset_id,
        Device.geom.op("&&")(reach(site.geom, dataset.match_distance_m)),
        Device.kind == func.any(site.compatible_kinds),
        func.ST_DWithin(
            geography(site.geom), geography(Device.geom), dataset.match_distance_m, False
        ),
        *observed_clauses(),
    ]
    if source_ids is not None:
        conditions.append(
            site.source_id == func.any(bindparam("ids", source_ids, type_=ARRAY(Text)))
        )
    pairs = (
        select(
            site.id,
            Device.id,
            func.ST_Distance(geography(site.geom), geography(Device.geom), False),
        )
        .select_from(site)
        .join(dataset, dataset.id == site.dataset_id)
        .join(Device, and_(*conditions[1:3]))
        .where(conditions[0], *conditions[3:])
    )
    return insert(DeclaredMatch).from_select(["site_id", "device_id", "distance_m"], pairs)
