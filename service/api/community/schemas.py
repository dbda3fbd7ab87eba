"""Community verification and edit history."""

import marshmallow as ma
from marshmallow import validate

from ... import vocabulary as vocab
from ..fields import NOT_BLANK, PublicDay, not_blank, utc_datetime


class ConfirmationInSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    verdict = ma.fields.String(required=True, validate=validate.OneOf(vocab.VERDICTS))
    comment = ma.fields.String(
        validate=[validate.Length(max=1000), not_blank],
        metadata={
            "description": "What is wrong: required with wrong_details, unless a photo_id shows it",
            **NOT_BLANK,
        },
    )
    photo_id = ma.fields.UUID(metadata={"description": "An uploaded photo as evidence"})

    @ma.validates_schema
    def what_is_wrong(self, data, **kwargs):
        """Wrong details are what moderators act on: a vote saying neither which (a comment)
        nor showing them (a photo) would tell them nothing, and still count as a sighting."""
        if data.get("verdict") == "wrong_details" and not (
            data.get("comment") or data.get("photo_id")
        ):
            raise ma.ValidationError(
                "Say what is wrong with the device's details in a comment (or show it in a photo).",
                "comment",
            )


class ConfirmationSchema(ma.Schema):
    id = ma.fields.UUID()
    device_id = ma.fields.UUID()
    verdict = ma.fields.String()
    comment = ma.fields.String(allow_none=True)
    photo_id = ma.fields.UUID(allow_none=True)
    created_at = PublicDay(metadata={"description": "The day of the vote (00:00 UTC)"})
    verification = ma.fields.String(metadata={"description": "The device's level after this vote"})
    last_confirmed_at = utc_datetime(allow_none=True, metadata={"description": "Its day"})


class RevisionSchema(ma.Schema):
    id = ma.fields.Integer(
        metadata={"description": "For moderators only (POST /devices/{id}/revert takes it)"}
    )
    action = ma.fields.String(
        metadata={"description": "create, update, delete, review, merge, unmerge, revert"}
    )
    other = ma.fields.UUID(
        metadata={
            "description": "For moderators only, on a merge or unmerge: the other device (on "
            "the device kept, the duplicate, which POST /devices/{id}/unmerge takes)"
        }
    )
    author = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Username, told to moderators and to the author of the revision; "
            "null for anyone else, or if the account was deleted"
        },
    )
    created_at = utc_datetime(
        metadata={"description": "The day (00:00 UTC); revisions are in the order made"}
    )
    changes = ma.fields.Dict(
        metadata={"description": "{field: [before, after]}; times as days (00:00 UTC)"}
    )


class HistorySchema(ma.Schema):
    revisions = ma.fields.List(ma.fields.Nested(RevisionSchema))
