"""District figures as CSV (RFC 4180), written by PostgreSQL."""

from sqlalchemy import Select, Text, case, cast, func, literal, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from ..declared.figures import FIGURES as DECLARED_FIGURES
from ..sql import sql_string
from .density import COUNT_GROUPS, DensityQuery, district_figures, district_values
from .kept import answered_by_kept_lines, kept_lines


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


def line_parts(values: dict, columns) -> tuple[ColumnElement, ColumnElement]:
    """The cells of a line before its rank and after it, each joined by commas."""
    cells = [csv_cell(values[path], is_text) for _name, path, is_text in columns]
    rank = next(i for i, (name, _p, _t) in enumerate(columns) if name == "rank")
    joined = [func.concat_ws(sql_string(","), *part) for part in (cells[:rank], cells[rank + 1 :])]
    return joined[0], joined[1]


def computed_lines(query: DensityQuery, only: Select | None = None):
    """Rows (code, count, area_km2, population, before_rank, after_rank, rank) computed now
    from the counts or the devices, for the selected districts or ONLY those codes."""
    _sel, rows = district_figures(query, only)
    before, after = line_parts(district_values(rows), csv_columns(query.declared))
    count = func.coalesce(rows.c.count, 0)
    return select(
        rows.c.code,
        count.label("count"),
        rows.c.area_km2,
        rows.c.population,
        before.label("before_rank"),
        after.label("after_rank"),
        rows.c.rank,
    )


def kept_csv_lines(query: DensityQuery) -> Select:
    """The rows of computed_lines() from the lines kept at write time (kept_lines)."""
    columns = csv_columns(query.declared)
    return kept_lines(
        query,
        ("before_rank", "after_rank"),
        lambda rows: line_parts(district_values(rows), columns),
    )


def select_density_csv(query: DensityQuery) -> Select:
    """CSV (RFC 4180, CRLF lines), one row per district in code order, header first.

    Each cell is written from the same expressions as the JSON's fields (district_values), or
    read from the lines kept at write time for the default filter; the rank is spliced in.
    """
    build = kept_csv_lines if answered_by_kept_lines(query) else computed_lines
    lines = build(query).subquery("ranked_lines")
    header = ",".join(name for name, _p, _t in csv_columns(query.declared))
    line = func.concat(
        lines.c.before_rank,
        sql_string(","),
        lines.c.rank,
        sql_string(","),
        lines.c.after_rank,
        sql_string("\r\n"),
    )
    body = select(
        func.coalesce(
            func.string_agg(line, aggregate_order_by(sql_string(""), lines.c.code)),
            sql_string(""),
        )
    ).scalar_subquery()
    return select(func.concat(literal(header + "\r\n"), body))
