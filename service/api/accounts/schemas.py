"""Accounts: registration, tokens, the caller's own data, roles."""

import re

import marshmallow as ma
from marshmallow import validate

from ... import vocabulary as vocab
from ...auth import name_skeleton, weak_password_reason
from ..fields import JsonInteger, PublicDay, utc_datetime


class WholeMatch(validate.Regexp):
    """A pattern the whole value must match: with re.match, `$` also matches before a final
    newline, and "alice\n" would pass for a pseudonym of its own next to "alice"."""

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


USERNAME = WholeMatch(
    r"^(?=.*[A-Za-z0-9])[A-Za-z0-9_.-]{3,32}$",
    error="3 to 32 letters without accents (a-z), digits, dots, dashes or underscores, with "
    "one letter or digit at least.",
)
# A new password's length, wherever one is set (the API, the command line): longer ones would
# be refused at every login (PASSWORD_GIVEN).
NEW_PASSWORD = validate.Length(10, 1024)
PASSWORD_GIVEN = validate.Length(1, 1024)
# Names that would read as the service's own voice or its staff where pins and decisions are
# signed ("By admin" in the review queue): registration refuses them, whatever the dots,
# dashes and underscores (an operator's create-admin may still use one).
STAFF_NAMES = frozenset((
    "admin", "administrator", "moderator", "moderation", "mod", "root", "superuser", "vigie",
    "system", "support", "staff", "official", "deleted", "anonymous", "nobody", "null", "none",
    "undefined",
))  # fmt: skip
# Staff words that stay one inside a longer name (`adminbob`, `chiefmoderator`); the shorter
# staff names are common inside ordinary words (`badminton`, `modest`, Vigier).
STAFF_AFFIXES = ("admin", "moderator", "moderation", "superuser")
# A name's parts: between dots, dashes and underscores, and where lower case turns upper.
NAME_PARTS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")


def reads_as_staff(username: str) -> bool:
    """Whether USERNAME would pass for the staff's own where it signs pins and decisions:
    a staff name whole (`r.o.o.t`, `admin2`), as one of its parts (`vigie_paris`,
    `VigieParis`, `team.mod`), or a staff word opening or closing it (`adminbob`)."""
    skeleton = name_skeleton(username)
    parts = {part.lower() for part in NAME_PARTS.findall(username)}
    return (
        skeleton.rstrip("0123456789") in STAFF_NAMES
        or not parts.isdisjoint(STAFF_NAMES)
        or skeleton.startswith(STAFF_AFFIXES)
        or skeleton.rstrip("0123456789").endswith(STAFF_AFFIXES)
    )


class StrictSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class RegisterSchema(StrictSchema):
    username = ma.fields.String(
        required=True, validate=USERNAME, metadata={"description": "A pseudonym is fine"}
    )
    password = ma.fields.String(
        required=True,
        load_only=True,
        validate=NEW_PASSWORD,
        metadata={
            "description": "10 characters or more, hard to guess: no common password, pattern "
            "or the username (a 422 says why)"
        },
    )
    email = ma.fields.Email(
        allow_none=True,
        validate=validate.Length(max=255),
        metadata={
            "description": "Optional; Vigie sends it nothing: only an operator who can reach "
            "you there may set you a new password (flask users reset-password)"
        },
    )

    @ma.validates("username")
    def not_a_staff_name(self, value, **_kwargs):
        if reads_as_staff(value):
            raise ma.ValidationError(
                "This name would read as the service's own or its staff's: choose another."
            )

    @ma.validates_schema
    def password_hard_to_guess(self, data, **_kwargs):
        reason = weak_password_reason(data["password"], data["username"], data.get("email"))
        if reason:
            raise ma.ValidationError(reason, field_name="password")


class PasswordChangeSchema(StrictSchema):
    current_password = ma.fields.String(required=True, load_only=True, validate=PASSWORD_GIVEN)
    new_password = ma.fields.String(
        required=True,
        load_only=True,
        validate=NEW_PASSWORD,
        metadata={"description": "As at registration: 10 characters or more, hard to guess"},
    )


class UserSchema(ma.Schema):
    id = ma.fields.UUID()
    username = ma.fields.String()
    role = ma.fields.String()
    # Read by admins too (a role granted): a day, as every time others can read.
    created_at = PublicDay(metadata={"description": "The day the account was created (UTC)"})


class MeSchema(UserSchema):
    email = ma.fields.String(allow_none=True)
    approved_pins = ma.fields.Integer()
    trusted = ma.fields.Boolean(metadata={"description": "Pins are published without review"})


class LoginSchema(StrictSchema):
    username = ma.fields.String(required=True, validate=validate.Length(1, 32))
    password = ma.fields.String(required=True, load_only=True, validate=PASSWORD_GIVEN)
    name = ma.fields.String(
        validate=validate.Length(max=100),
        metadata={"description": "A label, e.g. the phone's name"},
    )
    lifetime_days = JsonInteger(validate=validate.Range(1, 365))


class AccountDeletionSchema(StrictSchema):
    password = ma.fields.String(
        required=True,
        load_only=True,
        validate=PASSWORD_GIVEN,
        metadata={"description": "The account's password: a token alone cannot delete it"},
    )


class TokenSchema(ma.Schema):
    id = ma.fields.UUID()
    name = ma.fields.String(allow_none=True)
    created_at = utc_datetime()
    expires_at = utc_datetime()
    revoked_at = utc_datetime(allow_none=True)


class NewTokenSchema(TokenSchema):
    token = ma.fields.String(metadata={"description": "Shown once: only its hash is stored"})
    # With the token, in the same answer: a client that signed in knows whom as soon as it holds
    # the token, without a second request that could fail and leave the token unknown to it.
    user = ma.fields.Nested(UserSchema, metadata={"description": "The account signed in"})


class TokenListSchema(ma.Schema):
    tokens = ma.fields.List(ma.fields.Nested(TokenSchema))


class RoleSchema(StrictSchema):
    role = ma.fields.String(required=True, validate=validate.OneOf(vocab.ROLES))


class ExportSchema(ma.Schema):
    user = ma.fields.Nested(MeSchema)
    tokens = ma.fields.List(ma.fields.Nested(TokenSchema))
    devices = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "Pins created, as Features"}
    )
    revisions = ma.fields.List(ma.fields.Dict())
    photos = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "Photos uploaded, each with its `pin` ({kind, coordinates}) where "
            "the map shows it to you, else null (withdrawn, or no longer yours to see)"
        },
    )
    confirmations = ma.fields.List(ma.fields.Dict())
