"""District figures as CSV (RFC 4180), written by PostgreSQL."""

from sqlalchemy import Select, Text, case, cast, func, literal, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from ..declared.figures import FIGURES as DECLARED_FIGURES
from ..sql import sql_string
from .density import COUNT_GROUPS, DensityQuery, district_figures, district_values


def csv_columns(declared: bool = False) -> list[tuple[str, tuple[str, ...], bool]]:
    """(column name, JSON path, is text) for every CSV column, named as the JSON fields."""
    plain = [
        ("code", True),
        ("name", True),
        ("level", True),
        ("parent_code", True),
        ("population", False),
        ("population_year", False),
        ("area_km2", False),
        ("count", False),
        ("per_km2", False),
        ("per_10k_inhabitants", False),
        ("inhabitants_per_device", False),
        ("rank", False),
    ]
    columns = [(name, (name,), is_text) for name, is_text in plain]
    for group, _column, values, _prefix in COUNT_GROUPS:
        columns += [(f"{group}.{v}", (group, v), False) for v in values]
    columns += [(name, (name,), False) for name in ("watched_area_km2", "watched_share")]
    if declared:
        columns += [(name, (name,), False) for name in DECLARED_FIGURES]
    return columns


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP's CSV injection).
FORMULA_START = "^[=+@\t\r-]"


def csv_cell(value: ColumnElement, is_text: bool) -> ColumnElement:
    """One CSV field: text quoted (RFC 4180), numbers as JSON writes them, NULL as empty.

    Text that a spreadsheet would read as a formula (a district's name from an imported file
    may be anything) gets a leading apostrophe, which spreadsheets show as text.
    """
    found = cast(value, Text)
    if not is_text:
        return func.coalesce(found, sql_string(""))
    text = case(
        (found.op("~")(sql_string(FORMULA_START)), func.concat(sql_string("'"), found)),
        else_=found,
    )
    quoted = func.concat(
        sql_string('"'), func.replace(text, sql_string('"'), sql_string('""')), sql_string('"')
    )
    return case((found.is_(None), sql_string("")), else_=quoted)


def select_density_csv(query: DensityQuery) -> Select:
    """CSV (RFC 4180, CRLF lines), one row per district in code order, header first.

    Each cell is written from the same expressions as the JSON's fields (district_values).
    """
    _sel, rows = district_figures(query)
    values = district_values(rows)
    columns = csv_columns(query.declared)
    line = func.concat_ws(sql_string(","), *[csv_cell(values[path], t) for _n, path, t in columns])
    header = ",".join(name for name, _p, _t in columns)
    body = select(
        func.coalesce(
            func.string_agg(
                func.concat(line, sql_string("\r\n")),
                aggregate_order_by(sql_string(""), rows.c.code),
            ),
            sql_string(""),
        )
    ).scalar_subquery()
    return select(func.concat(literal(header + "\r\n"), body))
