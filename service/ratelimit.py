"""Rate limits per account, or per anonymous client identified without storing its address.

Anonymous clients are keyed by an HMAC of their address with the secret key: the limiter's
storage (memory, or Redis when REDIS_URL is set) never holds an IP address.
"""

import functools

from flask import current_app, request
from flask_limiter import Limiter

from .auth import current_user, keyed_hash
from .errors import ServiceError


def client_key() -> str:
    try:
        user = current_user()
    except ServiceError:
        user = None  # a bad token is refused by the route itself
    if user is not None:
        return f"user:{user.id}"
    return "anon:" + keyed_hash(request.remote_addr or "unknown")[:24]


def limiter() -> Limiter:
    return current_app.extensions["vigie.limiter"]


# Two wrappers rather than one factory: flask-limiter identifies a context-manager limit by the
# source line that enters it, so each limit needs a line of its own.
def auth_limit(func):
    """Logins and registrations: few per minute, against password guessing and account spam."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with limiter().limit(current_app.config["RATE_LIMIT_AUTH"], key_func=client_key):
            return func(*args, **kwargs)

    return wrapper


def write_limit(func):
    """Every other write: one shared ceiling per account."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with limiter().limit(current_app.config["RATE_LIMIT_WRITES"], key_func=client_key):
            return func(*args, **kwargs)

    return wrapper


def retry_after_only_when_refused(response):
    """flask-limiter sends Retry-After on every answer; it means "come back later" (RFC 9110,
    10.2.3), so only a refusal keeps it. The X-RateLimit-* headers still tell what is left."""
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def init_app(app) -> None:
    config = app.config
    # Registered before the limiter's own hook, so that it runs after it (Flask runs
    # after-request hooks in reverse order).
    app.after_request(retry_after_only_when_refused)
    app.extensions["vigie.limiter"] = Limiter(
        key_func=client_key,
        app=app,
        default_limits=[config["RATE_LIMIT_DEFAULT"]],
        storage_uri=config.get("REDIS_URL") or "memory://",
        key_prefix=config["RATELIMIT_KEY_PREFIX"],
        headers_enabled=True,
        enabled=config["RATELIMIT_ENABLED"],
    )
