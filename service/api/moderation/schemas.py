"""Moderation: the review queue, decisions, merges and reverts."""

import marshmallow as ma
from marshmallow import validate

from ..devices.schemas import DeviceFeatureSchema, DuplicateCandidateSchema
from ..fields import NOT_BLANK, JsonInteger, not_blank, utc_datetime
from ..photos.schemas import DevicePhotoSchema


class StrictSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class ReviewSchema(StrictSchema):
    decision = ma.fields.String(required=True, validate=validate.OneOf(("approve", "reject")))
    reason = ma.fields.String(
        validate=[validate.Length(1, 1000), not_blank],
        metadata={
            "description": "Shown to the author; required to reject, refused to approve",
            **NOT_BLANK,
        },
    )

    @ma.validates_schema
    def reason_for_rejection(self, data, **kwargs):
        """A rejection's reason is shown to the author; an approval's would be to everyone."""
        if data.get("decision") == "reject" and not data.get("reason"):
            raise ma.ValidationError("Say why the pin is rejected.", "reason")
        if data.get("decision") == "approve" and "reason" in data:
            raise ma.ValidationError(
                "An approval takes no reason: the device's Feature, public once approved, "
                "would show it to everyone.",
                "reason",
            )


class MergeSchema(StrictSchema):
    other = ma.fields.UUID(
        required=True, metadata={"description": "The duplicate to fold into this device"}
    )


class UnmergeSchema(StrictSchema):
    merged_into = ma.fields.UUID(
        required=True,
        metadata={
            "description": "The device it was merged into, as the history names it (`other` of "
            "that device's merge): a request read before another moderator's decision undoes "
            "no other merge"
        },
    )


class MergeArgsSchema(StrictSchema):
    force = ma.fields.Boolean(
        metadata={
            "description": "Merge even devices of two kinds, or farther apart than "
            "MERGE_DISTANCE_M (100 m by default)"
        }
    )


class RevertSchema(StrictSchema):
    revision = JsonInteger(
        required=True,
        validate=validate.Range(min=1, max=2**63 - 1),
        metadata={"description": "Revision whose state to restore"},
    )


class QueueArgsSchema(ma.Schema):
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(1, 500))


class QueueItemSchema(ma.Schema):
    device = ma.fields.Nested(DeviceFeatureSchema)
    author = ma.fields.String(
        allow_none=True,
        metadata={"description": "Who pinned it (null once the account is deleted)"},
    )
    duplicate_candidates = ma.fields.List(ma.fields.Nested(DuplicateCandidateSchema))


class PendingPhotoSchema(DevicePhotoSchema):
    device_id = ma.fields.UUID()
    kind = ma.fields.String(metadata={"description": "Its device's kind"})
    coordinates = ma.fields.List(
        ma.fields.Float(), metadata={"description": "Its device's position: [lon, lat]"}
    )
    uploaded_by = ma.fields.String(
        allow_none=True,
        metadata={"description": "Who added it (null once the account is deleted)"},
    )
    created_at = utc_datetime(metadata={"description": "Day it was uploaded (00:00 UTC)"})


class QueueSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(QueueItemSchema), metadata={"description": "Pins"})
    photos = ma.fields.List(
        ma.fields.Nested(PendingPhotoSchema),
        metadata={"description": "Photos that new contributors added to public pins"},
    )


class PhotoReviewSchema(StrictSchema):
    decision = ma.fields.String(
        required=True,
        validate=validate.OneOf(("approve", "reject")),
        metadata={"description": "approve: listed with its device; reject: deleted"},
    )
