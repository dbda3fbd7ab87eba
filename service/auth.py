"""Who is calling: opaque bearer tokens (only their SHA-256 is stored) and argon2 passwords."""

import functools
import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, g, request
from flask.sessions import SessionInterface
from sqlalchemy import func as sql_func
from sqlalchemy import select

from .db import session
from .errors import Forbidden, Unauthorized
from .models import ApiToken, User
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


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
                "Send the token as `Authorization: Bearer <token>`.", field="Authorization"
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
            raise Unauthorized(
                "The token is unknown, expired or revoked: log in again.", field="Authorization"
            )
        user, g.token_id = row
    g.user = user
    return user


def require_user(role: str | None = None) -> User:
    user = current_user()
    if user is None:
        raise Unauthorized(
            "Log in first: this needs a bearer token.",
            field="Authorization",
            headers={"WWW-Authenticate": 'Bearer realm="vigie"'},
        )
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

        return wrapper

    return decorator
