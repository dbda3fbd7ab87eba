"""Declared datasets and their sites as JSON and GeoJSON written by PostgreSQL."""

from sqlalchemy import Numeric, Select, Text, and_, cast, func, select
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from ...models import DeclaredDataset, DeclaredMatch, DeclaredSite, DeclaredVersion
from ..devices.filter import within_bboxes
from ..paging import select_feature_page
from ..sql import feature_text, geojson_geometry, sql_string, uuid_json
from .matching import matched_count, matched_devices, site_status


def pairs(**members: ColumnElement) -> list:
    return [p for name, value in members.items() for p in (sql_string(name), value)]


def json_objects(order_by: tuple, **members: ColumnElement) -> ColumnElement:
    """An aggregate: a JSON array of one object (MEMBERS) per row, in ORDER_BY order."""
    return func.json_agg(aggregate_order_by(func.json_build_object(*pairs(**members)), *order_by))


def dataset_object(dataset=DeclaredDataset) -> ColumnElement:
    """A dataset's provenance and the figures of its sites, as a JSON object."""
    site = aliased(DeclaredSite)
    counted = (
        select(matched_count(site).label("n"), site.declared_count)
        .where(site.dataset_id == dataset.id)
        .correlate(dataset)
        .subquery("counted")
    )
    status = site_status(counted.c.n, counted.c.declared_count)
    figures = (
        select(
            func.json_build_object(
                *pairs(
                    sites=func.count(),
                    declared_devices=func.coalesce(func.sum(counted.c.declared_count), 0),
                    matched=func.coalesce(
                        func.sum(func.least(counted.c.n, counted.c.declared_count)), 0
                    ),
                    verified=func.count().filter(status == sql_string("verified")),
                    partially_verified=func.count().filter(
                        status == sql_string("partially_verified")
                    ),
                    unverified=func.count().filter(status == sql_string("unverified")),
                )
            )
        )
        .select_from(counted)
        .scalar_subquery()
    )
    versions = (
        select(
            json_objects(
                (DeclaredVersion.version,),
                version=DeclaredVersion.version,
                publisher=DeclaredVersion.publisher,
                published_on=DeclaredVersion.published_on,
                source_url=DeclaredVersion.source_url,
                licence=DeclaredVersion.licence,
                sha256=DeclaredVersion.sha256,
                sites=DeclaredVersion.sites,
                imported_at=DeclaredVersion.imported_at,
                added=DeclaredVersion.added,
                removed=DeclaredVersion.removed,
                changed=DeclaredVersion.changed,
            )
        )
        .where(DeclaredVersion.dataset_id == dataset.id)
        .correlate(dataset)
        .scalar_subquery()
    )
    return func.json_build_object(
        *pairs(
            name=dataset.name,
            publisher=dataset.publisher,
            published_on=dataset.published_on,
            source_url=dataset.source_url,
            licence=dataset.licence,
            sha256=dataset.sha256,
            version=dataset.version,
            match_distance_m=dataset.match_distance_m,
            imported_at=dataset.imported_at,
            figures=figures,
            versions=versions,
        )
    )


def select_declared_credits(name: str | None = None) -> Select:
    """Each declared dataset's credit (its publisher, licence and source), or NAME's only."""
    statement = select(
        DeclaredDataset.name,
        DeclaredDataset.publisher.label("attribution"),
        DeclaredDataset.licence,
        DeclaredDataset.source_url,
    ).order_by(DeclaredDataset.name)
    return statement if name is None else statement.where(DeclaredDataset.name == name)


def select_datasets_json() -> Select:
    """`[{dataset}, ...]` in name order, as one text value."""
    return select(
        cast(
            func.coalesce(
                func.json_agg(aggregate_order_by(dataset_object(), DeclaredDataset.name)),
                cast(sql_string("[]"), JSON),
            ),
            Text,
        )
    )


def select_dataset_json(name: str) -> Select:
    return select(cast(dataset_object(), Text)).where(DeclaredDataset.name == name)


def site_properties(site=DeclaredSite, dataset=DeclaredDataset) -> ColumnElement:
    matched = matched_count(site)
    return func.json_build_object(
        *pairs(
            dataset=dataset.name,
            source_id=site.source_id,
            kinds=site.kinds,
            declared_count=site.declared_count,
            address=site.address,
            commissioned=site.commissioned,
            commissioned_on=site.commissioned_on,
            status=site_status(matched, site.declared_count),
            matched=matched,
            devices=matched_devices(site),
            match_distance_m=dataset.match_distance_m,
            attributes=site.attributes,
        )
    )


def site_feature(site=DeclaredSite, dataset=DeclaredDataset) -> ColumnElement:
    """A site's Feature as JSON text (the dataset is looked up by the caller's join)."""
    return feature_text(
        uuid_json(site.id), geojson_geometry(site.geom), site_properties(site, dataset)
    )


def site_feature_text() -> ColumnElement:
    """The Feature of the DeclaredSite row at hand, its dataset looked up (a subquery)."""
    dataset = aliased(DeclaredDataset)
    return (
        select(site_feature(DeclaredSite, dataset))
        .where(dataset.id == DeclaredSite.dataset_id)
        .correlate(DeclaredSite)
        .scalar_subquery()
    )


def site_clauses(
    *, dataset: str | None = None, statuses=(), bboxes=(), site=DeclaredSite
) -> list[ColumnElement]:
    """Sites of DATASET (None: of every dataset), of one of STATUSES, in one of BBOXES."""
    clauses = []
    if dataset is not None:
        clauses.append(
            site.dataset_id
            == select(DeclaredDataset.id).where(DeclaredDataset.name == dataset).scalar_subquery()
        )
    if statuses:
        clauses.append(site_status(matched_count(site), site.declared_count).in_(list(statuses)))
    if bboxes:
        clauses.append(within_bboxes(site.geom, bboxes))
    return clauses


def select_site_page(clauses, limit: int, after=None) -> Select:
    """A page of site Features in id order (FeaturePage columns)."""
    return select_feature_page(DeclaredSite.id, site_feature_text(), clauses, limit, after=after)


def select_site_feature(site_id) -> Select:
    """The site's Feature, and the name of its list (which its answer credits)."""
    return (
        select(site_feature().label("feature"), DeclaredDataset.name.label("dataset"))
        .select_from(DeclaredSite)
        .join(DeclaredDataset, DeclaredDataset.id == DeclaredSite.dataset_id)
        .where(DeclaredSite.id == site_id)
    )


def select_device_declaration(device_id) -> Select:
    """Whether a device matches declared sites, and which (dataset, source id, site id)."""
    sites = (
        select(
            json_objects(
                (DeclaredDataset.name, DeclaredSite.source_id),
                site=DeclaredSite.id,
                dataset=DeclaredDataset.name,
                source_id=DeclaredSite.source_id,
                distance_m=func.round(cast(DeclaredMatch.distance_m, Numeric), 1),
            )
        )
        .select_from(DeclaredMatch)
        .join(DeclaredSite, DeclaredSite.id == DeclaredMatch.site_id)
        .join(DeclaredDataset, DeclaredDataset.id == DeclaredSite.dataset_id)
        .where(and_(DeclaredMatch.device_id == device_id))
        .scalar_subquery()
    )
    return select(cast(func.coalesce(sites, cast(sql_string("[]"), JSON)), Text))
