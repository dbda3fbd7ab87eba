"""What a client sends and receives for devices: GeoJSON Features of surveillance devices."""

import uuid

import marshmallow as ma
from marshmallow import ValidationError, validate

from ... import vocabulary as vocab
from ...geo.tiles import MAX_ZOOM
from ..fields import (
    NOT_BLANK,
    BBox,
    FeatureCollectionSchema,
    FeatureSchema,
    JsonNumber,
    LinkSchema,
    PointGeometrySchema,
    ValueList,
    choice,
    not_blank,
    possible_sighting,
    utc_datetime,
)
from ..photos.schemas import DevicePhotoSchema


class Directions(ma.fields.Field):
    """Viewing directions in degrees; a single number is read as a one-element list."""

    MAX_DIRECTIONS = 8

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).update(
            type="array",
            items={"type": "integer", "minimum": 0, "maximum": 359},
            uniqueItems=True,
            description="Viewing directions in degrees clockwise from north, one per lens "
            "(OSM camera:direction). A single number is accepted.",
        )
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        values = value if isinstance(value, list) else [value]
        if not 1 <= len(values) <= self.MAX_DIRECTIONS:
            raise ValidationError(f"Give between 1 and {self.MAX_DIRECTIONS} directions.")
        for degrees in values:
            if isinstance(degrees, bool) or not isinstance(degrees, int | float):
                raise ValidationError("Each direction must be a whole number of degrees.")
            # The range first: NaN and infinities fail it, and have no int().
            if not 0 <= degrees <= 359 or degrees != int(degrees):
                raise ValidationError(f"Direction {degrees} must be a whole number from 0 to 359.")
        directions = [int(d) for d in values]
        twice = next((d for d in directions if directions.count(d) > 1), None)
        if twice is not None:
            raise ValidationError(f"Direction {twice} is given twice: one per lens.")
        return directions

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class Tags(ma.fields.Dict):
    """Extra OpenStreetMap-style key/values, bounded like OSM's own limits."""

    def __init__(self, **kwargs):
        super().__init__(
            # An empty key is refused by the whole (at_most_tags), named properties.tags: a
            # key's own error would name the field "tags..key".
            keys=ma.fields.String(validate=validate.Length(max=vocab.TAG_MAX_CHARS)),
            values=ma.fields.String(validate=validate.Length(0, vocab.TAG_MAX_CHARS)),
            # Not validate.Length, which the OpenAPI document would give as a string's maxLength.
            validate=at_most_tags,
            metadata={
                "maxProperties": vocab.TAGS_MAX_ENTRIES,
                "description": f"At most {vocab.TAGS_MAX_ENTRIES} entries, "
                f"keys and values of at most {vocab.TAG_MAX_CHARS} characters.",
            },
            **kwargs,
        )


def at_most_tags(tags: dict) -> None:
    if "" in tags:
        raise ValidationError("A tag has an empty key: give each tag a name.")
    if len(tags) > vocab.TAGS_MAX_ENTRIES:
        raise ValidationError(f"At most {vocab.TAGS_MAX_ENTRIES} tags, not {len(tags)}.")


def photo_ids_field() -> ma.fields.List:
    return ma.fields.List(
        ma.fields.UUID(),
        validate=validate.Length(max=vocab.PHOTOS_PER_REQUEST_MAX),
        metadata={"description": "Ids of uploaded photos to attach to the device"},
    )


class DevicePropertiesSchema(ma.Schema):
    """Properties a contributor sets; null clears an optional one."""

    class Meta:
        unknown = ma.RAISE

    kind = choice(vocab.KIND_NAMES, required=True)
    camera_type = choice(
        vocab.CAMERA_TYPES,
        allow_none=True,
        metadata={"description": f"Only for {', '.join(vocab.CAMERA_KINDS)}"},
    )
    mount = choice(vocab.MOUNTS, allow_none=True)
    direction = Directions(allow_none=True)
    angle = JsonNumber(
        allow_none=True,
        allow_nan=False,
        validate=validate.Range(0, 360, min_inclusive=False),
        metadata={"description": "Field of view in degrees"},
    )
    height = JsonNumber(
        allow_none=True,
        allow_nan=False,
        validate=validate.Range(0, 500),
        metadata={"description": "Height above ground in metres"},
    )
    zone = choice(vocab.ZONES, allow_none=True)
    surveillance = choice(vocab.SURVEILLANCE_AREAS, allow_none=True)
    operator = ma.fields.String(
        allow_none=True,
        validate=[validate.Length(max=vocab.OPERATOR_MAX_CHARS), not_blank],
        metadata=NOT_BLANK,
    )
    operator_type = choice(vocab.OPERATOR_TYPES)
    status = choice(vocab.STATUSES)
    observed_at = utc_datetime(
        allow_none=True,
        validate=possible_sighting,
        metadata={
            "description": "When it was seen (RFC 3339), not after now nor before 1900; "
            "served as the start of its UTC day, like every time of a device"
        },
    )
    accuracy_m = JsonNumber(
        allow_none=True,
        allow_nan=False,
        validate=validate.Range(0, 10000),
        metadata={"description": "GPS accuracy in metres"},
    )
    notes = ma.fields.String(
        allow_none=True,
        validate=[validate.Length(max=vocab.NOTES_MAX_CHARS), not_blank],
        metadata=NOT_BLANK,
    )
    source = ma.fields.Url(
        allow_none=True,
        schemes={"http", "https"},
        validate=validate.Length(max=vocab.SOURCE_MAX_CHARS),
        metadata={"description": "URL of a public record about the device"},
    )
    tags = Tags()

    @ma.validates_schema
    def camera_type_of_a_camera(self, data, **_kwargs):
        """A patch without kind is checked against the device's (fit_camera_type)."""
        kind = data.get("kind")
        if kind and data.get("camera_type") is not None and kind not in vocab.CAMERA_KINDS:
            raise ValidationError(no_camera_type(kind), "camera_type")


def no_camera_type(kind: str) -> str:
    return f"A {kind} has no camera type: camera_type is for {', '.join(vocab.CAMERA_KINDS)}."


class DevicePropertiesPatchSchema(DevicePropertiesSchema):
    """The same properties, each optional: only those given change."""


RANDOM_UUID_PATTERN = (
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
)


def random_uuid(value: uuid.UUID) -> None:
    """A device's id is public: one of another version carries the time it was made (1, 6,
    7), some the maker's network address (1)."""
    if value.version != 4 or value.variant != uuid.RFC_4122:
        raise ValidationError(
            "Give a random UUID (version 4, as crypto.randomUUID() makes): the id is public, "
            "and other versions carry the time they were made, some the device's address."
        )


class FeatureInSchema(ma.Schema):
    """A Feature sent: GeoJSON allows foreign members (bbox, ...), which are ignored, but one
    named as a property of devices, or `photo_id`, is a misplaced field that would be lost."""

    class Meta:
        unknown = ma.EXCLUDE

    @ma.validates_schema(pass_original=True)
    def no_misplaced_member(self, _data, original, **_kwargs):
        if not isinstance(original, dict):
            return
        misplaced = sorted(set(original) & set(DevicePropertiesPatchSchema._declared_fields))
        if misplaced:
            name = misplaced[0]
            raise ValidationError(
                f"{name} is a property of the device: send it in properties.", name
            )
        if "photo_id" in original:
            raise ValidationError("Attach photos with photo_ids, a list of ids.", "photo_id")


class DeviceFeatureInSchema(FeatureInSchema):
    """A GeoJSON Feature with a Point geometry; `id` may be a client-made UUID."""

    type = ma.fields.String(required=True, validate=validate.Equal("Feature"))
    id = ma.fields.UUID(
        validate=random_uuid,
        metadata={
            "description": "Client-made random UUID (version 4), for offline creation",
            "pattern": RANDOM_UUID_PATTERN,
        },
    )
    geometry = ma.fields.Nested(PointGeometrySchema, required=True)
    properties = ma.fields.Nested(DevicePropertiesSchema, required=True)
    photo_ids = photo_ids_field()


class DevicePatchSchema(FeatureInSchema):
    """A partial Feature: only the properties (and geometry) given change. Its `id`, if it
    has one, must be the device's of the URL (checked by the route)."""

    type = ma.fields.String(validate=validate.Equal("Feature"))
    id = ma.fields.UUID(metadata={"description": "The device's id, as in the URL, if given"})
    geometry = ma.fields.Nested(PointGeometrySchema)
    properties = ma.fields.Nested(DevicePropertiesPatchSchema(partial=True))
    photo_ids = photo_ids_field()


class DevicePropertiesOutSchema(DevicePropertiesSchema):
    review_status = choice(vocab.REVIEW_STATUSES)
    review_reason = ma.fields.String(
        allow_none=True, metadata={"description": "Why a moderator rejected the pin"}
    )
    verification = choice(vocab.VERIFICATION_LEVELS)
    last_confirmed_at = utc_datetime(
        allow_none=True, metadata={"description": "Day of the last confirmation (00:00 UTC)"}
    )
    photos = ma.fields.List(ma.fields.Nested(DevicePhotoSchema))
    created_at = utc_datetime(metadata={"description": "Day it was pinned (00:00 UTC)"})
    updated_at = utc_datetime(metadata={"description": "Day of its last change (00:00 UTC)"})
    osm_id = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "The OpenStreetMap node it was imported from (data under the ODbL, "
            "credit OpenStreetMap contributors), or that an import found to be this pin "
            "(exported, then uploaded to OpenStreetMap); null for the other devices"
        },
    )


class DeviceFeatureSchema(FeatureSchema):
    id = ma.fields.UUID()
    geometry = ma.fields.Nested(PointGeometrySchema)
    properties = ma.fields.Nested(DevicePropertiesOutSchema)


# With cluster=true, a cell of several devices is one Feature (service/geo/tiles.py,
# cluster_feature_text); a cell of one device is that device's Feature.
CLUSTER_FEATURE = {
    "type": "object",
    "description": "With cluster=true: several devices, at their cell's centre",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "geometry": {"$ref": "#/components/schemas/PointGeometry"},
        "properties": {
            "type": "object",
            "required": ["cluster", "count", "kinds"],
            "additionalProperties": False,
            "properties": {
                "cluster": {"type": "boolean", "enum": [True]},
                "count": {"type": "integer", "minimum": 2},
                "kinds": {
                    "type": "object",
                    "description": "How many devices of each kind (kinds with none left out)",
                    "additionalProperties": {"type": "integer", "minimum": 1},
                },
            },
        },
    },
}


class DeviceCollectionSchema(FeatureCollectionSchema):
    features = ma.fields.List(
        ma.fields.Raw(
            metadata={"oneOf": [{"$ref": "#/components/schemas/DeviceFeature"}, CLUSTER_FEATURE]}
        )
    )
    numberReturned = ma.fields.Integer()
    numberMatched = ma.fields.Integer(
        metadata={
            "description": "With count=true: devices in all; with cluster=true: cells in all "
            "(more than numberReturned when the limit left some out)"
        }
    )
    links = ma.fields.List(ma.fields.Nested(LinkSchema))


class DeviceQueryArgsSchema(ma.Schema):
    """Filters of the device listing; unknown parameters are refused."""

    class Meta:
        unknown = ma.RAISE

    bbox = BBox()
    kind = ValueList(choice(vocab.KIND_NAMES), metadata={"description": "Comma-separated kinds"})
    status = ValueList(choice(vocab.STATUSES))
    operator_type = ValueList(choice(vocab.OPERATOR_TYPES))
    verification = ValueList(choice(vocab.VERIFICATION_LEVELS))
    updated_since = utc_datetime(
        metadata={"description": "Only devices changed after this instant"}
    )
    declared = ma.fields.Boolean(
        metadata={
            "description": "false: only devices that match no site of a declared list "
            "(undeclared); true: only those that match one (docs/declared.md)"
        }
    )
    limit = ma.fields.Integer(
        validate=validate.Range(1, 10000), metadata={"description": "Page size (default 100)"}
    )
    cursor = ma.fields.String(
        validate=validate.Length(max=64),
        metadata={"description": "Opaque cursor from a `next` link"},
    )
    count = ma.fields.Boolean(
        metadata={
            "description": "Also compute numberMatched (costs a count); GeoJSON pages of "
            "devices only (not with cluster or f=osm)"
        }
    )
    f = choice(
        ("geojson", "osm"),
        metadata={
            "description": "geojson (default), or osm: OSM XML of the devices not taken from "
            "OpenStreetMap, with OSM tags and negative ids, for review and upload in JOSM"
        },
    )

    cluster = ma.fields.Boolean(
        metadata={
            "description": "Group devices into clusters for a map at `zoom` (the cells of the "
            "vector tiles): a cluster Feature has properties cluster, count and kinds; a cell "
            "holding one device gives that device. The `limit` most populous cells are returned. "
            "GeoJSON only (not with f=osm)."
        }
    )
    zoom = ma.fields.Integer(
        validate=validate.Range(0, MAX_ZOOM),
        metadata={
            "description": "Map zoom level the clusters are for (required with cluster=true, "
            "refused without it)"
        },
    )

    @ma.validates_schema
    def check_cluster(self, data, **kwargs):
        if data.get("cluster") and "zoom" not in data:
            raise ValidationError("Give the map's zoom level with cluster=true.", "zoom")
        if data.get("cluster") and "cursor" in data:
            raise ValidationError("Clusters come in one page: drop the cursor.", "cursor")
        if data.get("cluster") and data.get("f") == "osm":
            raise ValidationError("Clusters are GeoJSON only: drop f=osm or cluster.", "f")
        if "zoom" in data and not data.get("cluster"):
            raise ValidationError("zoom is the clusters' map zoom: add cluster=true.", "zoom")
        if data.get("count") and (data.get("cluster") or data.get("f") == "osm"):
            raise ValidationError("count is given with GeoJSON pages of devices only.", "count")


class DeviceCreateArgsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    force = ma.fields.Boolean(
        metadata={
            "description": "Pin, or move, even though a device of the same kind stands nearby"
        }
    )


class DuplicateCandidateSchema(ma.Schema):
    id = ma.fields.UUID()
    kind = ma.fields.String()
    review_status = ma.fields.String()
    distance_m = ma.fields.Float()
    photos = ma.fields.List(ma.fields.Nested(DevicePhotoSchema))
    yours = ma.fields.Boolean(
        metadata={
            "description": "Pinned by the caller (a pin of their own, perhaps awaiting "
            "review): nothing to confirm"
        }
    )
