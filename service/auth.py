"""Who is calling: opaque bearer tokens (only their SHA-256 is stored), argon2 passwords that
are hard to guess, and pseudonyms that stay reserved after their account is deleted."""

import functools
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, time, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, g, request
from flask.sessions import SessionInterface
from sqlalchemy import delete, exists, literal_column, select, update
from sqlalchemy import func as sql_func
from sqlalchemy.dialects.postgresql import insert
from zxcvbn import zxcvbn

from .db import ReadOnPrimary, current_replica, session
from .errors import Conflict, Forbidden, Unauthorized
from .models import ApiToken, ReservedUsername, User
from .models.account import USERNAME_SKELETON_SQL
from .visibility import Viewer

TOKEN_PREFIX = "vigie_"


class NoCookieSession(SessionInterface):
    """Callers authenticate by bearer token: no signed-cookie session is read or written.

    Flask would otherwise open one on every request (an HMAC serializer each time) for
    nothing, and a cookie would be one more thing that identifies a contributor.
    """

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response):
        return None


passwords = PasswordHasher()
# Verifying against this hash when the user does not exist keeps both paths equally slow.
_UNKNOWN_USER_HASH = passwords.hash(secrets.token_hex(16))


# zxcvbn's "safely unguessable" (10^8 guesses or more): common passwords, keyboard patterns,
# repeats, dates and the account's own name all score below it.
MIN_PASSWORD_SCORE = 3
# zxcvbn refuses longer input (its matching grows fast with length): it judges the start, and
# a password whose first 72 characters are hard to guess is hard to guess.
PASSWORD_JUDGED_CHARACTERS = 72
# A name or email this short may well occur in a good passphrase by chance ("al" in "walrus").
MIN_PERSONAL_LENGTH = 4


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def keyed_hash(value: str) -> str:
    """HMAC-SHA256 of VALUE with SECRET_KEY, in hex: recognises a value without storing it."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()


def without(password: str, personal: list[str]) -> str:
    """PASSWORD with every copy of these values taken out, whatever their case."""
    for value in sorted(personal, key=len, reverse=True):
        password = re.sub(re.escape(value), "", password, flags=re.IGNORECASE)
    return password


def weak_password_reason(password: str, username: str, email: str | None = None) -> str | None:
    """Why PASSWORD is easy to guess (a common password, a pattern, the account's own USERNAME
    or EMAIL, or the name before its @), or None when it is not.

    Copies of those are no secret to whoever tries the account: what is left once they are
    taken out must be hard to guess too (zxcvbn alone scores `name_name` 3, its repeat unseen).
    """
    personal = [value for value in (username, email, (email or "").partition("@")[0]) if value]
    judged = password[:PASSWORD_JUDGED_CHARACTERS]
    verdict = zxcvbn(judged, user_inputs=personal)
    if verdict["score"] >= MIN_PASSWORD_SCORE:
        rest = without(judged, [value for value in personal if len(value) >= MIN_PERSONAL_LENGTH])
        if rest == judged or (rest and zxcvbn(rest)["score"] >= MIN_PASSWORD_SCORE):
            return None
        return (
            "This password is too easy to guess: it repeats the account's name or email, and "
            "what is left is easy to guess. Use a longer passphrase."
        )
    feedback = verdict["feedback"]
    hints = " ".join(hint for hint in (feedback["warning"], *feedback["suggestions"]) if hint)
    return f"This password is too easy to guess. {hints or 'Use a longer passphrase.'}"


def name_skeleton(username: str) -> str:
    """What a pseudonym reads as: its letters and digits in lower case. `bob.rev`, `Bob_Rev`
    and `bobrev` are one name to a reader, so only one account may hold it."""
    return re.sub(r"[._-]", "", username.lower())


def username_taken(username: str) -> bool:
    """Taken by an account, or reserved after the account that had it was deleted, in the
    same letters and digits (name_skeleton) whatever the dots, dashes and underscores.

    The skeleton is locked until the transaction ends: two registrations of look-alike names
    at once (`bob.rev`, `bobrev`) cannot both find it free.
    """
    skeleton = name_skeleton(username)
    session.execute(select(sql_func.pg_advisory_xact_lock(sql_func.hashtext("name:" + skeleton))))
    held = literal_column(USERNAME_SKELETON_SQL)  # as users_username_skeleton_idx writes it
    if session.scalar(select(exists().where(held == skeleton).select_from(User))):
        return True
    return session.scalar(
        select(
            exists().where(
                # Reservations made before names were compared by skeleton hold the lowercased
                # name itself.
                ReservedUsername.name_hash.in_(
                    [keyed_hash(skeleton), keyed_hash(username.lower())]
                ),
                ReservedUsername.reserved_until > datetime.now(UTC),
            )
        )
    )


def reserve_username(username: str) -> None:
    """Keep a deleted account's pseudonym from others for DELETED_USERNAME_RESERVED_DAYS, so that
    nobody passes for its owner; reservations that ran out are forgotten on the way."""
    now = datetime.now(UTC)
    session.execute(delete(ReservedUsername).where(ReservedUsername.reserved_until <= now))
    days = current_app.config["DELETED_USERNAME_RESERVED_DAYS"]
    if days <= 0:
        return
    # Until the end of a day, not to the microsecond: the row must not tell when the account
    # was deleted any better than that day.
    last_day = (now + timedelta(days=days)).date()
    until = datetime.combine(last_day + timedelta(days=1), time.min, UTC)
    reservation = insert(ReservedUsername).values(
        name_hash=keyed_hash(name_skeleton(username)), reserved_until=until
    )
    session.execute(
        reservation.on_conflict_do_update(
            index_elements=[ReservedUsername.name_hash],
            set_={"reserved_until": reservation.excluded.reserved_until},
        )
    )


def keep_an_admin(user: User) -> None:
    """Refuse a change that would leave Vigie without an admin: USER is about to stop being one.

    The admins' rows are locked, so that two admins demoting each other at once cannot both
    succeed: the second sees the first's change once it commits.
    """
    if user.role != "admin":
        return
    admins = session.scalars(select(User.id).where(User.role == "admin").with_for_update()).all()
    if admins == [user.id]:
        raise Conflict(
            "This is the last admin: grant the admin role to another account first.",
            field="role",
        )


def issue_token(
    user: User, name: str | None, lifetime_days: int | None = None
) -> tuple[ApiToken, str]:
    """Create a token; the plain value is returned once and never stored."""
    days = lifetime_days or current_app.config["TOKEN_LIFETIME_DAYS"]
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        token_hash=hash_token(plain),
        name=name,
        expires_at=datetime.now(UTC) + timedelta(days=days),
    )
    session.add(token)
    return token, plain


def set_password(user: User, password: str, *, keep_token=None) -> None:
    """Give USER a new password and revoke every token of theirs but KEEP_TOKEN (an id): a
    password changed because it leaked leaves no session open with it."""
    user.password_hash = passwords.hash(password)
    revoke_tokens(user, keep=keep_token)


def revoke_tokens(user: User, *, keep=None) -> int:
    """Revoke USER's live tokens (but KEEP, an id); how many were."""
    live = [ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)]
    if keep is not None:
        live.append(ApiToken.id != keep)
    revoked = session.execute(update(ApiToken).where(*live).values(revoked_at=sql_func.now()))
    return revoked.rowcount


def check_password(user: User | None, password: str) -> bool:
    try:
        return (
            passwords.verify(user.password_hash if user else _UNKNOWN_USER_HASH, password)
            and user is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def find_user(username: str) -> User | None:
    """Usernames are unique whatever their case."""
    return session.scalars(
        select(User).where(sql_func.lower(User.username) == username.lower())
    ).one_or_none()


def current_viewer() -> Viewer:
    """The caller as service/visibility.py sees them: anonymous, an author, or a moderator."""
    return Viewer.of(current_user())


def current_user() -> User | None:
    """The user behind the request's bearer token; a bad or expired token is a 401."""
    if "user" in g:
        return g.user
    header = request.headers.get("Authorization", "")
    user = None
    if header:
        scheme, _, plain = header.partition(" ")
        if scheme.lower() != "bearer" or not plain.strip():
            raise Unauthorized(
                "Send the token as `Authorization: Bearer <token>`.",
                field="Authorization",
                error="invalid_request",
            )
        row = session.execute(
            select(User, ApiToken.id)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(
                ApiToken.token_hash == hash_token(plain.strip()),
                ApiToken.revoked_at.is_(None),
                ApiToken.expires_at > datetime.now(UTC),
            )
        ).one_or_none()
        if row is None:
            if current_replica() is not None:
                raise ReadOnPrimary  # a token issued after the position the client sent
            raise Unauthorized(
                "The token is unknown, expired or revoked: log in again.",
                field="Authorization",
                error="invalid_token",
            )
        user, g.token_id = row
    g.user = user
    return user


def require_user(role: str | None = None) -> User:
    user = current_user()
    if user is None:
        raise Unauthorized("Log in first: this needs a bearer token.", field="Authorization")
    if role == "moderator" and not user.is_moderator:
        raise Forbidden("Only moderators and admins may do this.")
    if role == "admin" and user.role != "admin":
        raise Forbidden("Only admins may do this.")
    return user


def login_required(role: str | None = None):
    """Decorator: the view needs a token (and ROLE: moderator or admin)."""

    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            require_user(role)
            return func(*args, **kwargs)

        wrapper.token_required = True  # a request without one is refused before anything else
        return wrapper

    return decorator
