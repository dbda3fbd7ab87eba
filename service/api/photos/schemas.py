"""What a client sends and receives for photos."""

import marshmallow as ma
from flask_smorest.fields import Upload

from ..fields import PointGeometrySchema, utc_datetime


class PhotoUploadSchema(ma.Schema):
    """A multipart/form-data body with the image in the `file` part."""

    file = Upload(
        required=True,
        metadata={"description": "JPEG, PNG, WebP or HEIC/HEIF image (not animated)"},
    )


class DevicePhotoSchema(ma.Schema):
    """A photo as listed in a device Feature: where to fetch it and its size."""

    id = ma.fields.UUID()
    thumbnail = ma.fields.String(metadata={"description": "URL of the 320 px JPEG"})
    large = ma.fields.String(metadata={"description": "URL of the 1024 px JPEG"})
    full = ma.fields.String(metadata={"description": "URL of the full JPEG (at most 2560 px)"})
    width = ma.fields.Integer(metadata={"description": "Width of the full JPEG, upright"})
    height = ma.fields.Integer(metadata={"description": "Height of the full JPEG, upright"})


class PhotoSchema(DevicePhotoSchema):
    device_id = ma.fields.UUID(
        allow_none=True, metadata={"description": "Null until attached to a device"}
    )
    created_at = utc_datetime(metadata={"description": "Day it was uploaded (00:00 UTC)"})
    review_status = ma.fields.String(
        metadata={
            "description": "approved, or pending: added by a new contributor to a public pin, "
            "it waits for a moderator, seen by its uploader and moderators only"
        }
    )


class UploadedPhotoSchema(PhotoSchema):
    """The stored photo, plus what its original said about where and when it was taken.

    The suggestion is not kept: send it back as the device's geometry to use it.
    """

    suggested_location = ma.fields.Nested(
        PointGeometrySchema,
        allow_none=True,
        metadata={"description": "GPS position from the original's EXIF, if any"},
    )
    accuracy_m = ma.fields.Float(
        allow_none=True, metadata={"description": "GPS horizontal error in metres, if recorded"}
    )
    taken_at = utc_datetime(
        allow_none=True,
        metadata={"description": "Capture time in UTC, when the photo records its time zone"},
    )
