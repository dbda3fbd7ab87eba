"""OpenStreetMap surveillance tags <-> Vigie device fields, both ways, per service/vocabulary.py.

Reading keeps every tag it cannot map (or whose value it cannot read) in the device's `tags`,
so nothing an OSM mapper wrote is lost; writing turns a device back into the same OSM tags.
"""

import math
import re
from dataclasses import dataclass

from .. import vocabulary as vocab

SURVEILLANCE_KEY, SURVEILLANCE_VALUE = next(iter(vocab.SURVEILLANCE.items()))
TYPE_KEY = "surveillance:type"
# The OSM wiki's default: a surveillance node without a type is a camera.
DEFAULT_TYPE = "camera"
COMPASS_POINTS = [
    "N",
    "NNE",
    "NE",
    "ENE",
    "E",
    "ESE",
    "SE",
    "SSE",
    "S",
    "SSW",
    "SW",
    "WSW",
    "W",
    "WNW",
    "NW",
    "NNW",
]
CARDINALS = {name: index * 22.5 for index, name in enumerate(COMPASS_POINTS)}
# OSM operator:type values, folded onto Vigie's public/private.
OPERATOR_TYPES = {
    "public": "public",
    "government": "public",
    "private": "private",
    "business": "private",
    "commercial": "private",
    "private_non_profit": "private",
    "religious": "private",
}
ENUMERATIONS = {
    "camera_type": vocab.CAMERA_TYPES,
    "mount": vocab.MOUNTS,
    "zone": vocab.ZONES,
    "surveillance": vocab.SURVEILLANCE_AREAS,
}
NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:m|°)?\s*$")
# Every device column an OSM node may set; a re-import resets those it no longer carries.
MAPPED_COLUMNS = ("kind", *vocab.OSM_KEYS, "tags")


@dataclass(frozen=True)
class OsmNode:
    id: int
    version: int | None
    lon: float
    lat: float
    tags: dict[str, str]


def kind_of(tags: dict[str, str]) -> vocab.Kind | None:
    """The most specific kind whose OSM tags the node carries, or None for other types."""
    given = {**tags, TYPE_KEY: tags.get(TYPE_KEY, DEFAULT_TYPE)}
    matches = [
        kind
        for kind in vocab.KINDS
        if all(given.get(key, "").lower() == value.lower() for key, value in kind.osm_tags.items())
    ]
    return max(matches, key=lambda kind: len(kind.osm_tags), default=None)


def read_number(text: str, low: float, high: float, *, low_inclusive=True) -> float | None:
    match = NUMBER.match(text)
    if not match:
        return None
    value = float(match.group(1))
    if (
        not math.isfinite(value)
        or value > high
        or value < low
        or (value == low and not low_inclusive)
    ):
        return None
    return value


def read_directions(text: str) -> list[int] | None:
    """camera:direction: degrees or compass points, several separated by `;`."""
    directions = []
    for part in text.split(";"):
        part = part.strip().upper()
        degrees = CARDINALS.get(part)
        if degrees is None:
            degrees = read_number(part, 0, 360)
        if degrees is None:
            return None
        directions.append(round(degrees) % 360)
    return directions if 1 <= len(directions) <= 8 else None


def read_value(column: str, text: str):
    """The device value an OSM tag value means, or None when it cannot be read."""
    if column in ENUMERATIONS:
        return text if text in ENUMERATIONS[column] else None
    if column == "direction":
        return read_directions(text)
    if column == "angle":
        return read_number(text, 0, 360, low_inclusive=False)
    if column == "height":
        return read_number(text, 0, 500)
    if column == "operator":
        return text if len(text) <= vocab.OPERATOR_MAX_CHARS else None
    if column == "operator_type":
        return OPERATOR_TYPES.get(text.lower())
    raise KeyError(column)


def device_columns(tags: dict[str, str]) -> dict | None:
    """Device columns for a surveillance node's tags; None when it is not a device Vigie maps."""
    if tags.get(SURVEILLANCE_KEY) != SURVEILLANCE_VALUE:
        return None
    kind = kind_of(tags)
    if kind is None:
        return None
    rest = {key: value for key, value in tags.items() if key not in kind.osm_tags}
    columns = {"kind": kind.name, "operator_type": "unknown"}
    for column, key in vocab.OSM_KEYS.items():
        columns.setdefault(column, None)
        if key in rest and (value := read_value(column, rest[key])) is not None:
            columns[column] = value
            del rest[key]
    kept = sorted(
        (key, value)
        for key, value in rest.items()
        if len(key) <= vocab.TAG_MAX_CHARS and len(value) <= vocab.TAG_MAX_CHARS
    )
    columns["tags"] = dict(kept[: vocab.TAGS_MAX_ENTRIES])
    return columns


def write_number(value: float) -> str:
    return f"{value:g}"


def osm_tags(device: dict) -> dict[str, str]:
    """The OSM tags of a device (its own extra tags first; mapped fields win)."""
    tags = dict(device.get("tags") or {})
    kind = next(k for k in vocab.KINDS if k.name == device["kind"])
    tags.update(kind.osm_tags)
    for column, key in vocab.OSM_KEYS.items():
        value = device.get(column)
        if value is None or (column == "operator_type" and value == "unknown"):
            continue
        if column == "direction":
            tags[key] = ";".join(str(d) for d in value)
        elif isinstance(value, float | int):
            tags[key] = write_number(value)
        else:
            tags[key] = str(value)
    return tags
