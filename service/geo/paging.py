"""Keyset pages of any table's Feature texts, joined by commas inside PostgreSQL."""

from dataclasses import dataclass

from sqlalchemy import ARRAY, Select, Text, and_, cast, func, literal, or_, select, true, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from .sql import sql_string


@dataclass(frozen=True)
class FeaturePage:
    """A page of Features joined by commas, its size, edges and whether more lie beyond.

    What select_feature_page's statements return as a row; edges are key values as text.
    from_openstreetmap tells whether a public device came from OpenStreetMap (its credit is
    then due), when the page's own statement asked it; None when it did not.
    """

    features: str
    returned: int
    first_key: str | None
    last_key: str | None
    has_more: bool
    from_openstreetmap: bool | None = None


def select_feature_page(
    keys, feature: ColumnElement, clauses, limit: int, *, after=None, before=None
) -> Select:
    """One page of any table's Feature texts in key order, joined by commas.

    KEYS is a column, or a tuple of columns unique together, that orders the rows; AFTER and
    BEFORE are key values (tuples for several columns). Pages forward from `after`, or backward
    from `before`. Fetches limit + 1 rows so that whether more lie beyond costs no COUNT(*).
    Returns features, returned, first_key, last_key (key values as text, joined by ':' for
    several columns) and has_more (more rows beyond, in the paging direction).
    """
    keys = keys if isinstance(keys, tuple) else (keys,)
    backward = before is not None
    beyond, order = keyset(keys, after, before)
    page = (
        select(*(k.label(f"key{i}") for i, k in enumerate(keys)))
        .where(and_(*clauses, beyond))
        .order_by(*order)
        .limit(limit + 1)
        .subquery("page")
    )
    sort = [page.c[f"key{i}"] for i in range(len(keys))]
    # Each row's Feature is looked up by its key once the page is chosen: a dense box then
    # sorts thousands of narrow keys, not thousands of whole rows.
    page_feature = (
        select(feature).where(*(k == c for k, c in zip(keys, sort, strict=True))).scalar_subquery()
    )
    paging_order = [c.desc() for c in sort] if backward else sort
    key_text = func.concat_ws(sql_string(":"), *(cast(c, Text) for c in sort))
    numbered = select(
        key_text.label("key"),
        page_feature.label("feature"),
        func.row_number().over(order_by=paging_order).label("n"),
        func.lead(key_text).over(order_by=paging_order).label("following"),
    ).subquery("numbered")
    in_page = numbered.c.n <= limit
    # The page's edges in paging order: its first row, and its last (no row follows in it).
    near = and_(in_page, numbered.c.n == 1)
    far = and_(in_page, or_(numbered.c.n == limit, numbered.c.following.is_(None)))
    near_key, far_key = (func.array_agg(numbered.c.key).filter(edge)[1] for edge in (near, far))
    first_key, last_key = (far_key, near_key) if backward else (near_key, far_key)
    return select(
        func.coalesce(
            func.string_agg(
                numbered.c.feature,
                aggregate_order_by(
                    sql_string(","), numbered.c.n.desc() if backward else numbered.c.n
                ),
            ).filter(in_page),
            sql_string(""),
        ).label("features"),
        func.count().filter(in_page).label("returned"),
        first_key.label("first_key"),
        last_key.label("last_key"),
        (func.count() > limit).label("has_more"),
    )


def keyset(keys: tuple, after, before) -> tuple[ColumnElement, list]:
    """The rows beyond a cursor in the paging direction, and that direction's order."""
    position = tuple_(*keys) if len(keys) > 1 else keys[0]

    def bound(value):
        if isinstance(value, ColumnElement):  # a parameter
            return value
        values = value if isinstance(value, tuple) else (value,)
        bounds = [literal(v, k.type) for v, k in zip(values, keys, strict=True)]
        return tuple_(*bounds) if len(bounds) > 1 else bounds[0]

    if before is not None:
        return position < bound(before), [k.desc() for k in keys]
    return (position > bound(after) if after is not None else true()), list(keys)


def select_first_features(feature: ColumnElement, order: ColumnElement, clauses, limit: int):
    """The first LIMIT Feature texts of the rows of CLAUSES in ORDER, joined by commas, with
    how many, whether more matched (one row more is read) and the last ORDER value returned
    (`last`: where a next page, if any, begins after)."""
    page = (
        select(
            feature.label("feature"),
            order.label("position"),
            func.row_number().over(order_by=order).label("n"),
        )
        .where(*clauses)
        .order_by(order)
        .limit(limit + 1)
        .subquery("page")
    )
    in_page = page.c.n <= limit
    joined = func.string_agg(page.c.feature, aggregate_order_by(sql_string(","), page.c.n))
    positions = aggregate_order_by(page.c.position, page.c.n.desc())
    latest_first = func.array_agg(positions, type_=ARRAY(order.type))
    return select(
        func.coalesce(joined.filter(in_page), sql_string("")).label("features"),
        func.count().filter(in_page).label("returned"),
        (func.count() > limit).label("has_more"),
        latest_first.filter(in_page)[1].label("last"),
    )
