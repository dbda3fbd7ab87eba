"""Marshmallow fields shared by several resources."""

import math
from datetime import UTC, date, datetime, time, timedelta

import marshmallow as ma
from marshmallow import ValidationError, validate
from webargs.fields import DelimitedList

from .. import vocabulary as vocab
from ..geo.cql2 import DAY, RFC3339_TIMESTAMP
from ..visibility import day_of


class UtcDateTime(ma.fields.AwareDateTime):
    """An RFC 3339 timestamp read as UTC: an instant before year 1 or after 9999 there (such
    as 0001-01-01T00:00:00+05:00) is refused, since neither Python nor the stored value read
    back could hold it. A date alone is its midnight UTC. Python reads ISO 8601's other forms
    too (week dates, basic format, an hour alone), which `at=` and CQL2 refuse: so are they
    here."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and not (
            RFC3339_TIMESTAMP.fullmatch(value) or DAY.fullmatch(value)
        ):
            raise ValidationError(
                f"{value!r} is not an RFC 3339 timestamp or date (such as 2026-12-05T10:00:00Z "
                "or 2026-12-05)."
            )
        # RFC 3339 allows a lowercase t and z, which Python's parser does not read.
        instant = super()._deserialize(
            value.upper() if isinstance(value, str) else value, attr, data, **kwargs
        )
        try:
            return instant.astimezone(UTC)
        except OverflowError as exc:
            raise ValidationError("This instant lies outside the years 1 to 9999 (UTC).") from exc


class PublicDay(UtcDateTime):
    """A time others may read: the start of its UTC day (docs/security.md)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize(day_of(value), attr, obj, **kwargs)


def utc_datetime(**kwargs) -> UtcDateTime:
    """An RFC 3339 timestamp; one without offset is read as UTC."""
    return UtcDateTime(default_timezone=UTC, **kwargs)


NUMBER = r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?"
BBOX_PATTERN = f"^{NUMBER},{NUMBER},{NUMBER},{NUMBER}$"


BBOX_3D_PATTERN = f"^{NUMBER}(,{NUMBER}){{3}}(,{NUMBER},{NUMBER})?$"


class BBox(ma.fields.Field):
    """`minLon,minLat,maxLon,maxLat` in WGS84; minLon > maxLon crosses the antimeridian.

    With `heights=True` (OGC API Features), six numbers are accepted too,
    `minLon,minLat,minHeight,maxLon,maxLat,maxHeight`, and the heights ignored (devices
    have no altitude).
    """

    def __init__(
        self,
        heights: bool = False,
        geographic: bool = True,
        across_antimeridian: bool = True,
        **kwargs,
    ):
        self.heights = heights
        # False: any CRS; the schema checks the ranges once it knows which (bbox-crs).
        self.geographic = geographic
        description = "minLon,minLat,maxLon,maxLat in WGS84 (RFC 7946 order). " + (
            "minLon greater than maxLon means the box crosses the antimeridian."
            if across_antimeridian
            else "A box across the antimeridian (minLon greater than maxLon) is refused."
        )
        if heights:
            description += " Six numbers (with a min and max height) are accepted, heights ignored."
        metadata = kwargs.setdefault("metadata", {})
        metadata.setdefault("description", description)  # a parameter's own words first
        metadata.update(
            type="string",
            pattern=BBOX_3D_PATTERN if heights else BBOX_PATTERN,
            example="2.33,48.85,2.35,48.86",
        )
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        parts = str(value).split(",")
        if len(parts) != 4 and not (self.heights and len(parts) == 6):
            six = " (or six, with heights)" if self.heights else ""
            raise ValidationError(f"Expected four numbers{six}: minLon,minLat,maxLon,maxLat.")
        try:
            numbers = [float(p) for p in parts]
        except ValueError as exc:
            raise ValidationError("Every bbox value must be a number.") from exc
        if len(numbers) == 6:
            if not numbers[2] <= numbers[5]:
                raise ValidationError("minHeight must not exceed maxHeight.")
            numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
        if not all(math.isfinite(v) for v in numbers):
            raise ValidationError("bbox values must be finite numbers.")
        if self.geographic:
            check_geographic(*numbers)
        return tuple(numbers)


def check_geographic(min_lon, min_lat, max_lon, max_lat) -> None:
    """The ranges of a WGS84 box (minLon > maxLon crosses the antimeridian)."""
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
        raise ValidationError("Longitudes must lie between -180 and 180.")
    if not (-90 <= min_lat <= 90 and -90 <= max_lat <= 90):
        raise ValidationError("Latitudes must lie between -90 and 90.")
    if min_lat > max_lat:
        raise ValidationError("minLat must not exceed maxLat.")


def split_antimeridian(bbox) -> list[tuple[float, float, float, float]]:
    """One box, or two when it crosses the antimeridian (RFC 7946 section 5.2).

    Longitudes -180 and 180 are one meridian: a box with an edge on it also holds the devices
    stored on it under the other number, through a box of no width there.
    """
    min_lon, min_lat, max_lon, max_lat = bbox
    if min_lon > max_lon:
        return [(min_lon, min_lat, 180.0, max_lat), (-180.0, min_lat, max_lon, max_lat)]
    if min_lon == -180 and max_lon < 180:
        return [tuple(bbox), (180.0, min_lat, 180.0, max_lat)]
    if max_lon == 180 and min_lon > -180:
        return [tuple(bbox), (-180.0, min_lat, -180.0, max_lat)]
    return [bbox]


def common_parts(bboxes: list) -> list[tuple[float, float, float, float]]:
    """The boxes (split at the antimeridian) that lie in every one of BBOXES: none when
    some are apart."""
    parts = split_antimeridian(bboxes[0])
    for bbox in bboxes[1:]:
        overlaps = (
            (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
            for a in parts
            for b in split_antimeridian(bbox)
        )
        parts = [box for box in overlaps if box[0] <= box[2] and box[1] <= box[3]]
    return parts


def check_lon_lat(coordinates: list[float]) -> None:
    """Longitude first, as RFC 7946 says; the message helps with swapped axes."""
    if len(coordinates) < 2:
        return  # the length validator reports it
    lon, lat = coordinates[0], coordinates[1]
    if not -180 <= lon <= 180:
        raise ValidationError(f"Longitude {lon} is outside -180..180 (coordinates are [lon, lat]).")
    if not -90 <= lat <= 90:
        raise ValidationError(f"Latitude {lat} is outside -90..90 (coordinates are [lon, lat]).")


class JsonTypedNumber:
    """A number of a JSON body: a string of digits is refused, as JSON and GeoJSON type
    numbers (marshmallow would read "2.3" as 2.3), and so is a boolean."""

    kind = "number"

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str | bool):
            raise ValidationError(f"Not a valid {self.kind} (a JSON number, not a string).")
        return super()._deserialize(value, attr, data, **kwargs)


class JsonNumber(JsonTypedNumber, ma.fields.Float):
    pass


class JsonInteger(JsonTypedNumber, ma.fields.Integer):
    """A whole JSON number: 1.5 is refused too (marshmallow's Integer would read 1)."""

    kind = "integer"

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)


class PointGeometrySchema(ma.Schema):
    """A GeoJSON Point in WGS84, longitude first."""

    class Meta:
        unknown = ma.EXCLUDE  # a geometry may carry a bbox and foreign members too (RFC 7946, 5)

    type = ma.fields.String(required=True, validate=ma.validate.Equal("Point"))
    coordinates = ma.fields.List(
        JsonNumber(allow_nan=False),
        required=True,
        validate=[ma.validate.Length(2, 3), check_lon_lat],
        metadata={"description": "[longitude, latitude] (an altitude is accepted and ignored)"},
    )


class DateTimeInterval(ma.fields.Field):
    """An RFC 3339 instant or interval (`start/end`, `../end`, `start/..`), as OGC `datetime`.

    Deserialises to a closed (start, end) pair, None for an open end. A date alone means
    the whole day (UTC).
    """

    OPEN = ("", "..")

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).update(
            type="string",
            example="2026-01-01T00:00:00Z/..",
            description="An instant, or an interval start/end where `..` leaves an end open "
            "(RFC 3339; a date alone means that whole day, UTC).",
        )
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        parts = str(value).split("/")
        if len(parts) == 1:
            if parts[0] in self.OPEN:
                raise ValidationError("Give an instant or an interval start/end.")
            return self.bounds(parts[0])
        if len(parts) != 2 or all(p in self.OPEN for p in parts):
            raise ValidationError("An interval is start/end; at most one end may be `..`.")
        start = None if parts[0] in self.OPEN else self.bounds(parts[0])[0]
        end = None if parts[1] in self.OPEN else self.bounds(parts[1])[1]
        if start and end and start > end:
            raise ValidationError("The interval starts after it ends.")
        return (start, end)

    @staticmethod
    def bounds(text: str) -> tuple[datetime, datetime]:
        """The first and last instant a timestamp or a date covers."""
        try:
            day = date.fromisoformat(text)
        except ValueError:
            pass
        else:  # its last instant without a day after it, which 9999-12-31 has not
            return datetime.combine(day, time(), UTC), datetime.combine(day, time.max, UTC)
        instant = utc_datetime().deserialize(text)  # saying why not (form, or years 1-9999)
        return instant, instant


def choice(values, **kwargs) -> ma.fields.String:
    """A string that must be one of VALUES (a vocabulary)."""
    return ma.fields.String(validate=validate.OneOf(values), **kwargs)


class LinkSchema(ma.Schema):
    """A link of a GeoJSON answer (service/api/geojson.py, link)."""

    href = ma.fields.String()
    rel = ma.fields.String()
    type = ma.fields.String()
    title = ma.fields.String()


class FeatureSchema(ma.Schema):
    """A GeoJSON Feature (RFC 7946): each resource's adds its id, geometry and properties."""

    type = choice(["Feature"], metadata={"example": "Feature"})


class FeatureCollectionSchema(ma.Schema):
    """A GeoJSON FeatureCollection: each resource's adds its features and paging members."""

    type = choice(["FeatureCollection"], metadata={"example": "FeatureCollection"})


def quoted(value: str, longest: int = 40) -> str:
    """VALUE quoted in a message, cut to LONGEST characters with an ellipsis saying so."""
    return repr(value if len(value) <= longest else value[:longest] + "…")


class ValueList(DelimitedList):
    """Comma-separated values of a query parameter, at least one: an empty `kind=` says
    nothing a client meant, so it is refused rather than read as "no filter"."""

    def __init__(self, inner, *, validate=None, **kwargs):
        more = [validate] if callable(validate) else list(validate or [])
        # One message for an empty list: the parameter's own, when its limits say at least one.
        named = any(isinstance(v, ma.validate.Length) and (v.min or 0) >= 1 for v in more)
        at_least_one = (
            [] if named else [ma.validate.Length(min=1, error="Give at least one value.")]
        )
        super().__init__(inner, validate=[*at_least_one, *more], **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        """Each value once, in the order first given: given again, it says nothing more (nor
        counts twice against a limit of values). A wrong value is named by the parameter, its
        message quoting it (`kind`: "'drone': Must be one of..."), not by its place (`kind.1`),
        which a client matching on the parameter would not find."""
        try:
            values = super()._deserialize(value, attr, data, **kwargs)
        except ValidationError as error:
            if not isinstance(error.messages, dict):
                raise
            given = value.split(self.delimiter) if isinstance(value, str) else list(value)
            said = (
                f"{quoted(str(given[index]))}: {message}"
                for index, messages in sorted(error.messages.items())
                for message in messages
            )
            raise ValidationError(list(dict.fromkeys(said))) from error  # drone,drone: once
        return list(dict.fromkeys(values))


# What not_blank asks for (Python's and ECMAScript's regular expressions read it alike).
NOT_BLANK = {"pattern": vocab.VISIBLE.pattern}


def not_blank(value: str) -> None:
    """Free text: spaces and invisible characters alone say nothing, and would be kept, shown
    as empty and exported to OpenStreetMap as a value."""
    if not vocab.VISIBLE.search(value):
        raise ValidationError(
            "Blank: it holds only spaces or invisible characters; write the text."
        )


# Phones' clocks drift and time zones confuse: a day ahead is still "now".
CLOCK_ALLOWANCE = timedelta(days=1)


def possible_sighting(value: datetime) -> None:
    """A moment already past, and not before vocab.EARLIEST_SIGHTING_YEAR."""
    if value > datetime.now(UTC) + CLOCK_ALLOWANCE:
        raise ValidationError("This moment is in the future.")
    if value.astimezone(UTC).year < vocab.EARLIEST_SIGHTING_YEAR:
        raise ValidationError(
            f"A device seen before {vocab.EARLIEST_SIGHTING_YEAR}? Check the year."
        )
