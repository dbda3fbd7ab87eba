"""JSON objects written by concat() (json_object_text) read as json_build_object's do."""

import json
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    Integer,
    Numeric,
    Text,
    cast,
    func,
    literal,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import JSON

from service.geo.sql import json_object_text, sql_string

MEMBERS = [
    ("text", literal('quote " backslash \\ newline \n tab \t é 🛰 </script>', Text)),
    ("empty", literal("", Text)),
    ("missing_text", literal(None, Text)),
    ("integer", literal(-7, Integer)),
    ("big", literal(9_007_199_254_740_993, BigInteger)),
    ("missing_integer", literal(None, Integer)),
    ("decimal", literal(Decimal("0.0001"), Numeric)),
    ("large_decimal", literal(Decimal("123456789012345678901234.5678"), Numeric)),
    ("float", literal(1e-05, Float)),
    ("true", literal(True, Boolean)),
    ("false", literal(False, Boolean)),
    ("null", null()),
    ("json", literal({"a": [1, None]}, JSON)),
]


def test_members_read_as_json_build_object_writes_them(app, isolated):
    nested = [*MEMBERS, ("nested", json_object_text(MEMBERS)), ("none", json_object_text([]))]
    ours = isolated.execute(select(cast(json_object_text(nested), Text))).scalar_one()
    built = func.json_build_object(
        *[p for name, value in MEMBERS for p in (sql_string(name), value)]
    )
    theirs = json.loads(isolated.execute(select(cast(built, Text))).scalar_one())
    assert json.loads(ours) == {**theirs, "nested": theirs, "none": {}}
    # Written whole (a float would round it), and compact.
    assert '"integer":-7,"big":9007199254740993,' in ours
