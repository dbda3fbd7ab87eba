"""What researchers send and receive for statistics: filters, figures, attribution."""

from datetime import UTC, date, datetime, time, timedelta

import marshmallow as ma
from marshmallow import ValidationError, validate

from ... import vocabulary as vocab
from ...geo.cql2 import DAY, RFC3339_TIMESTAMP
from ...geo.statistics.density import RANK_METRICS
from ...geo.statistics.timeline import TIMELINE_INTERVALS
from ...models.district import CODE_MAX_CHARS
from ..fields import BBox, FeatureCollectionSchema, ValueList, choice
from ..geojson import GEOJSON, JSON

CSV = "text/csv"
# The formats of a statistics answer (f=, else Accept) and what each is served as.
MEDIA_TYPES = {"json": JSON, "geojson": GEOJSON, "csv": CSV}

MAX_CODES = 200


def code_field(**kwargs):
    return ma.fields.String(validate=validate.Length(1, CODE_MAX_CHARS), **kwargs)


def latest_known_day() -> date:
    """The last day a statistic may be asked at: tomorrow in UTC, begun east of it."""
    return datetime.now(UTC).date() + timedelta(days=1)


class MapDate(ma.fields.Field):
    """A date or an RFC 3339 instant: the map at the end of that (UTC) day.

    Times others read are days (service/visibility.py): counts replayed to the second would
    tell, by bisection, when a contributor pinned a device.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).update(
            type="string",
            example="2024-06-30",
            description="The map as it stood at the end of that day (UTC): a date, or an "
            "RFC 3339 instant standing for its day. See docs/statistics.md for the rule.",
        )
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = str(value)
        try:
            # Python reads more of ISO 8601 (20240615, 2024-W24-6, an hour alone): not these.
            if DAY.fullmatch(text):
                day = date.fromisoformat(text)
            elif RFC3339_TIMESTAMP.fullmatch(text):
                instant = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
                day = (instant if instant.tzinfo else instant.replace(tzinfo=UTC)).astimezone(UTC)
                day = day.date()
            else:
                raise ValueError(text)
        except (ValueError, OverflowError) as exc:
            raise ValidationError(
                "Give a date (YYYY-MM-DD) or an RFC 3339 instant (YYYY-MM-DDThh:mm:ssZ, or "
                "with an offset), within the years 1 to 9999 in UTC."
            ) from exc
        # A later day is not known yet, and would give today's figures under a date they do
        # not hold for.
        latest = latest_known_day()
        if day > latest:
            raise ValidationError(
                f"The map at {day.isoformat()} is not known yet: give a day up to "
                f"{latest.isoformat()}."
            )
        return datetime.combine(day, time.max, UTC)


class DeviceSelectionArgsSchema(ma.Schema):
    """Which devices count."""

    class Meta:
        unknown = ma.RAISE

    kind = ValueList(choice(vocab.KIND_NAMES), metadata={"description": "Comma-separated"})
    status = ValueList(
        choice(vocab.STATUSES),
        metadata={"description": "Default: active,unknown (the devices on the map now)"},
    )
    operator_type = ValueList(choice(vocab.OPERATOR_TYPES))
    verification = ValueList(
        choice(vocab.VERIFICATION_LEVELS),
        metadata={"description": "Community verification level (reported, confirmed, ...)"},
    )


# CSV only: for spreadsheets that read a file's code page otherwise.
BOM_FIELD = ma.fields.Boolean(
    metadata={
        "description": "CSV only: begin with a UTF-8 byte order mark, by which spreadsheets "
        "(Excel) tell UTF-8 from their own code page and show accented names as written"
    }
)


class FormatArgsMixin(ma.Schema):
    f = choice(
        tuple(MEDIA_TYPES),
        metadata={"description": "Output format; overrides the Accept header"},
    )
    rank_by = choice(RANK_METRICS, metadata={"description": "Figure ranked on (default per_km2)"})
    watched = ma.fields.Boolean(
        metadata={"description": "Also compute watched_area_km2 and watched_share (slower)"}
    )
    declared = ma.fields.Boolean(
        metadata={
            "description": "Also compute the declared figures (declared_sites, "
            "declared_devices, matched, unverified, undeclared, declared_coverage): "
            "docs/declared.md"
        }
    )
    tolerance = ma.fields.Float(
        allow_nan=False,
        validate=validate.Range(0, 10000),
        metadata={"description": "GeoJSON only: simplification tolerance in metres (default 10)"},
    )
    bom = BOM_FIELD


class DistrictStatsArgsSchema(DeviceSelectionArgsSchema, FormatArgsMixin):
    """Which districts and devices; at least a level or a parent."""

    level = ma.fields.String(validate=validate.Length(1, CODE_MAX_CHARS))
    parent = ValueList(
        code_field(),
        validate=validate.Length(max=MAX_CODES, error="Give at most {max} parent codes."),
    )
    at = MapDate()
    outside = ma.fields.Boolean(
        metadata={
            "description": "Also count totals.outside_count: the devices in the selection's "
            "bounding box but in none of its districts (slower: reads every device of the box)"
        }
    )

    @ma.validates_schema
    def needs_a_selection(self, data, **kwargs):
        if not data.get("level") and not data.get("parent"):
            raise ValidationError("Give a level and/or a parent.", "level")


class CompareArgsSchema(DeviceSelectionArgsSchema, FormatArgsMixin):
    codes = ValueList(
        code_field(),
        required=True,
        validate=validate.Length(
            1, MAX_CODES, error="Give between {min} and {max} district codes."
        ),
        metadata={"description": "District codes of any level, e.g. 06088,75056,69123"},
    )
    at = MapDate()

    @ma.pre_load
    def refuse_outside(self, data, **_kwargs):
        """Refused with its reason, not as a parameter unknown: the districts' own takes it."""
        if "outside" in data:
            raise ValidationError(
                "compare counts no devices outside: the bounding box of far-apart districts "
                "means nothing; ask /api/v1/stats/districts with their level or parent.",
                "outside",
            )
        return data


class GridArgsSchema(DeviceSelectionArgsSchema):
    bbox = BBox(required=True, across_antimeridian=False)
    cell = ma.fields.Float(
        allow_nan=False,
        validate=validate.Range(10, 100_000),
        metadata={"description": "Hexagon side in metres (default 250)"},
    )
    at = MapDate()


class TimelineArgsSchema(DeviceSelectionArgsSchema):
    district = code_field(required=True)
    interval = choice(TIMELINE_INTERVALS, metadata={"description": "Default month"})
    since = ma.fields.Date(
        metadata={
            "description": "The periods start at the one holding this day (YYYY-MM-DD), every "
            "change before it counted in its count; default: the first change of the count. "
            "Timelines of several districts asked with one `since` line up."
        }
    )
    f = choice(("json", "csv"), metadata={"description": "Output format; overrides Accept"})
    bom = BOM_FIELD

    @ma.validates("since")
    def since_a_day_of_the_record(self, value, **kwargs):
        """Periods from the year 1 by day would be 740,000 of them; a day to come, none."""
        latest = latest_known_day()
        if not date(vocab.EARLIEST_SIGHTING_YEAR, 1, 1) <= value <= latest:
            raise ValidationError(
                f"Give a day from {vocab.EARLIEST_SIGHTING_YEAR}-01-01 to {latest.isoformat()}."
            )


class FiguresSchema(ma.Schema):
    area_km2 = ma.fields.Float(metadata={"description": "Geodesic area (WGS84 spheroid)"})
    population = ma.fields.Integer(allow_none=True)
    count = ma.fields.Integer()
    per_km2 = ma.fields.Float(allow_none=True)
    per_10k_inhabitants = ma.fields.Float(allow_none=True)
    inhabitants_per_device = ma.fields.Float(allow_none=True)
    counts_by_kind = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    counts_by_status = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    counts_by_verification = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    watched_area_km2 = ma.fields.Float(allow_none=True)
    watched_share = ma.fields.Float(allow_none=True)
    # With declared=true (docs/declared.md); null otherwise.
    declared_sites = ma.fields.Integer(allow_none=True)
    declared_devices = ma.fields.Integer(allow_none=True)
    matched = ma.fields.Integer(allow_none=True)
    unverified = ma.fields.Integer(allow_none=True)
    undeclared = ma.fields.Integer(allow_none=True)
    declared_coverage = ma.fields.Float(allow_none=True)


class DistrictFiguresSchema(FiguresSchema):
    code = ma.fields.String()
    name = ma.fields.String()
    level = ma.fields.String()
    parent_code = ma.fields.String(allow_none=True)
    population_year = ma.fields.Integer(allow_none=True)
    rank = ma.fields.Integer()


class TotalsSchema(FiguresSchema):
    districts = ma.fields.Integer()
    districts_without_population = ma.fields.Integer()
    outside_count = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "With outside=true: devices in the selection's bounding box but in "
            "no district; else null"
        },
    )


class AttributionSchema(ma.Schema):
    name = ma.fields.String()
    attribution = ma.fields.String()
    licence = ma.fields.String(allow_none=True)
    source_url = ma.fields.String(allow_none=True)


class DensityStatsSchema(ma.Schema):
    districts = ma.fields.List(ma.fields.Nested(DistrictFiguresSchema))
    totals = ma.fields.Nested(TotalsSchema)
    attribution = ma.fields.List(ma.fields.Nested(AttributionSchema))


class GridSchema(FeatureCollectionSchema):
    features = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "The non-empty hexagons whose polygon meets the bbox, each counted "
            "whole (devices just outside the bbox included): i, j, count, per_km2"
        },
    )
    cell_m = ma.fields.Float()
    srid = ma.fields.Integer(metadata={"description": "Metric projection of the grid (UTM)"})
    devices = ma.fields.Integer(metadata={"description": "Devices in the hexagons returned"})
    attribution = ma.fields.List(ma.fields.Nested(AttributionSchema))


class PeriodSchema(ma.Schema):
    start = ma.fields.String(metadata={"description": "Its first day, YYYY-MM-DD (UTC)"})
    added = ma.fields.Integer(
        metadata={"description": "Devices that entered the count: appeared, moved in, changed"}
    )
    removed = ma.fields.Integer(
        metadata={"description": "Devices that left the count: removed, moved out, changed"}
    )
    count = ma.fields.Integer(
        metadata={"description": "Counted at the end of the period: what at= gives on its last day"}
    )


class TimelineSchema(ma.Schema):
    district = ma.fields.String()
    name = ma.fields.String()
    level = ma.fields.String()
    interval = ma.fields.String()
    periods = ma.fields.List(ma.fields.Nested(PeriodSchema))
    attribution = ma.fields.List(ma.fields.Nested(AttributionSchema))
