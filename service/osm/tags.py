"""OpenStreetMap surveillance tags <-> Vigie device fields, both ways, per service/vocabulary.py.

Reading keeps every tag it cannot map (or whose value it cannot read) in the device's `tags`,
so nothing an OSM mapper wrote is lost; writing turns a device back into the same OSM tags.
"""

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

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
# The same points in words, as mappers also write them: "south", "north-east", "northeast".
WORDS = {"N": "NORTH", "E": "EAST", "S": "SOUTH", "W": "WEST"}
CARDINALS |= {
    "".join(WORDS[letter] for letter in name): degrees
    for name, degrees in CARDINALS.items()
    if len(name) <= 2
}
DEGREES = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*°?\s*$")
DIRECTION_SEPARATORS = re.compile(r"[;,]")
WEB_ADDRESS = re.compile(r"^https?://[^\s/?#]+\.[^\s/?#]+(/\S*)?$", re.IGNORECASE)
SURVEY_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
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


def read_degrees(text: str) -> float | None:
    """Degrees from north, -360 to 360 (-90 is 270), or a compass point (NE, south...)."""
    word = re.sub(r"[\s_-]", "", text).upper()
    if word in CARDINALS:
        return CARDINALS[word]
    match = DEGREES.match(text)
    if not match:
        return None
    value = float(match.group(1))
    return value if -360 <= value <= 360 else None


def read_directions(text: str) -> list[int] | None:
    """camera:direction: degrees or compass points, several separated by `;` (or `,`), each
    kept once (`90;90`, `0;360`: one lens, as the API takes them)."""
    directions = []
    for part in DIRECTION_SEPARATORS.split(text):
        degrees = read_degrees(part)
        if degrees is None:
            return None
        directions.append(round(degrees) % 360)
    directions = list(dict.fromkeys(directions))
    return directions if 1 <= len(directions) <= 8 else None


def read_survey_date(text: str) -> datetime | None:
    """survey:date, a day (YYYY-MM-DD) that is neither in the future nor before
    vocab.EARLIEST_SIGHTING_YEAR, as its first instant (UTC)."""
    if not SURVEY_DATE.match(text):
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    if not vocab.possible_sighting_day(day):
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


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
    if column == "operator":  # blank, it says nothing (and the API refuses it)
        return (
            text if vocab.VISIBLE.search(text) and len(text) <= vocab.OPERATOR_MAX_CHARS else None
        )
    if column == "operator_type":
        return OPERATOR_TYPES.get(text.lower())
    if column == "source":  # Vigie's is a web address; `source=survey` stays a tag
        return text if WEB_ADDRESS.match(text) and len(text) <= vocab.SOURCE_MAX_CHARS else None
    if column == "observed_at":
        return read_survey_date(text)
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
        if column == "camera_type" and not kind.is_camera:
            continue  # a microphone's camera:type stays a tag, as the API refuses it
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
        elif column == "observed_at":  # survey:date is a day
            tags[key] = value.astimezone(UTC).date().isoformat()
        elif isinstance(value, float | int):
            tags[key] = write_number(value)
        else:
            tags[key] = str(value)
    return tags
