"""Rate limits per account, or per anonymous client identified without storing its address.

Anonymous clients are keyed by an HMAC of their address with the secret key: the limiter's
storage never holds an IP address. Counters live in Redis (REDIS_URL, a local one by default),
shared by every worker; without a Redis that answers, each worker counts on its own.
"""

import functools
import ipaddress
import logging
import math
import time

from flask import current_app, g, request
from flask_limiter import Limiter
from limits.storage import storage_from_string

from .auth import current_user, keyed_hash
from .db import falling_back_to_primary
from .errors import LIMIT_HEADERS, RATE_LIMIT_HEADERS, ServiceError

log = logging.getLogger(__name__)
# A Redis that takes longer than this is taken as down: no request waits on it for long.
REDIS_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
MEMORY = "memory://"


def client_key() -> str:
    """The request's account, else its client's keyed address; found once per request."""
    if "client_key" not in g:
        try:
            user = falling_back_to_primary(current_user)
        except ServiceError:
            user = None  # a bad token is refused by the route itself
        g.client_key = f"user:{user.id}" if user is not None else address_key()
    return g.client_key


def identify_caller() -> None:
    """Look the caller's token up before the limiter's own hook asks client_key for it.

    A database failing here makes the request's 503 (with Retry-After). Inside the limiter, any
    exception is taken for its counters' storage failing: the worker would count in memory
    from then on, and ask again on a session left to roll back (a 500).
    """
    client_key()


def address_key() -> str:
    """The client's address, keyed (never kept as it is)."""
    return "anon:" + keyed_hash(client_network(request.remote_addr or "unknown"))[:24]


def client_network(address: str) -> str:
    """ADDRESS, or for IPv6 its /64: one subscriber is given a whole /64 (RFC 6177), whose
    every address would otherwise open an allowance of its own."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return address
    if ip.ipv4_mapped is not None:  # an IPv4 client of a dual-stack socket
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


def account_key() -> str:
    """The account a password is tried for (keyed, whatever its case), known or not: the one a
    login names, else the signed-in one changing its password. Counting unknown names alike
    tells nobody which exist."""
    body = request.get_json(silent=True)
    username = body.get("username") if isinstance(body, dict) else None
    if username is None and g.get("user") is not None:
        username = g.user.username
    return "login:" + keyed_hash(str(username).lower())[:24]


def count_wrong_password() -> None:
    """The password the request tried is wrong: it counts against its account (login_limit)."""
    g.wrong_password = True


def limiter() -> Limiter:
    return current_app.extensions["vigie.limiter"]


# Wrappers rather than one factory: flask-limiter identifies a context-manager limit by the
# source line that enters it, so each limit needs a line of its own. Each keeps the default
# limit (override_defaults=False): flask-limiter would otherwise take the route, every method
# of it, for one with limits of its own once a request entered the wrapper, and stop counting
# its reads against RATE_LIMIT_DEFAULT.
def auth_limit(func):
    """Logins, registrations and password changes together: few per minute and per client
    address, against password guessing and account spam (by address, whatever token the
    request carries: each account's token would otherwise open another allowance)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        rate = current_app.config["RATE_LIMIT_AUTH"]
        with limiter().shared_limit(
            rate,
            scope="auth",
            key_func=address_key,
            override_defaults=False,
            error_message=f"Too many logins, registrations and password changes from this "
            f"address (at most {rate})",
        ):
            remember_checked_limits()
            return func(*args, **kwargs)

    return wrapper


def login_limit(func):
    """Beyond auth_limit, logins and password changes together: few wrong passwords per account,
    whatever addresses they come from (a botnet, the many addresses of one IPv6 subscriber, a
    stolen token guessing the current password). Only wrong passwords count
    (count_wrong_password), so the owner gets in again once the guessing stops."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        rate = current_app.config["RATE_LIMIT_LOGIN_FAILURES"]
        with limiter().shared_limit(
            rate,
            scope="wrong-passwords",
            error_message=f"Too many wrong passwords for this account (at most {rate})",
            key_func=account_key,
            deduct_when=lambda response: g.get("wrong_password", False),
            override_defaults=False,
        ):
            remember_checked_limits()
            return func(*args, **kwargs)

    return wrapper


def write_limit(func):
    """Every other write: one ceiling per account, all routes together (a limit of each route
    would give an account as many allowances as there are write routes)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        rate = current_app.config["RATE_LIMIT_WRITES"]
        with limiter().shared_limit(
            rate,
            scope="writes",
            error_message=f"Too many writes from this account (at most {rate})",
            key_func=client_key,
            override_defaults=False,
        ):
            remember_checked_limits()
            return func(*args, **kwargs)

    return wrapper


def default_rate() -> str:
    """Each route's limit: RATE_LIMIT_DEFAULT, or for files read by ranges (downloads, a view
    class `read_by_ranges`) RATE_LIMIT_DOWNLOADS. GDAL's /vsicurl/ reads a 20 MB GeoPackage by
    about 150 byte ranges: under the default limit of 600 a minute, four such reads would spend
    a minute's requests."""
    view = current_app.view_functions.get(request.endpoint)
    by_ranges = getattr(getattr(view, "view_class", None), "read_by_ranges", False)
    return current_app.config["RATE_LIMIT_DOWNLOADS" if by_ranges else "RATE_LIMIT_DEFAULT"]


def remember_checked_limits() -> None:
    """Keep the limits the limiter has just checked: it describes only the last ones it checked
    (a login's wrong-password limit, which a right password never counts down, in place of the
    address's limit that refuses it next)."""
    if limiter().enabled:
        g.setdefault("checked_limits", []).extend(limiter().current_limits)


def count_against(limit: int, remaining: int, reset_at: int) -> None:
    """The request counts against a limit of the service's own (new accounts' pins an hour):
    its answer's X-RateLimit-* may describe it (tightest_limit). RESET_AT: a Unix time."""
    g.setdefault("own_limits", []).append((limit, remaining, reset_at))


def tightest_limit(response) -> None:
    """Describe the limit with the fewest requests left in X-RateLimit-*, of those the request
    counted against (a refusal describes the limit that refused it already)."""
    checked = {
        limit.key: limit for limit in (*g.get("checked_limits", ()), *limiter().current_limits)
    }
    # Each asks the counters' storage, which may fail: the limiter's own headers stay then, as
    # flask-limiter keeps its answers when its reads fail.
    try:
        limits = [(c.limit.amount, c.remaining, c.reset_at) for c in checked.values()]
    except Exception:
        log.warning("rate limit counters unreadable: the answer describes the last limit only")
        return
    limits += g.get("own_limits", [])
    if response.status_code == 429 or len(limits) < 2:
        return
    amount, remaining, reset_at = min(limits, key=lambda limit: limit[1:])
    response.headers["X-RateLimit-Limit"] = str(amount)
    response.headers["X-RateLimit-Remaining"] = str(remaining)
    response.headers["X-RateLimit-Reset"] = str(reset_at)


def retry_after_only_when_refused(response):
    """flask-limiter sends Retry-After on every answer; it means "come back later" (RFC 9110,
    10.2.3), so only its refusals keep it (a 503 gives its own, or none). An answer that set
    its own keeps that one, and a refusal by a limit of the service's own (new accounts' pins
    an hour) its own X-RateLimit-*: the limiter would put its window's in their place, telling
    a refused client what is left of another limit. Other answers' X-RateLimit-* still tell
    what is left."""
    intended = getattr(response, "intended_limit_headers", {})
    if limiter().enabled and not intended:
        tightest_limit(response)
    own_limit = any(name in intended for name in RATE_LIMIT_HEADERS)
    for name in LIMIT_HEADERS:
        if name in intended:
            response.headers[name] = intended[name]
        elif own_limit or (name == "Retry-After" and response.status_code != 429):
            response.headers.pop(name, None)  # what the limiter said of another limit
    limiters_wait = "Retry-After" in response.headers and "Retry-After" not in intended
    if response.status_code == 429 and limiters_wait:
        # The limiter truncates the wait (0 in a window's last second, "at once"): a client
        # that obeys is refused again. Counted up to the window's end, which its reset time
        # (a whole second, rounded up) does not precede.
        reset = response.headers.get("X-RateLimit-Reset", "")
        wait = math.ceil(int(reset) - time.time()) if reset.isdigit() else 1
        response.headers["Retry-After"] = str(max(1, wait))
    return response


def counter_storage(redis_url: str | None) -> str:
    """REDIS_URL when that Redis answers; otherwise memory, with a warning that says the cost."""
    per_worker = (
        "rate limits are counted by each worker process on its own (with N workers, a client "
        "gets N times each limit); set REDIS_URL to a Redis shared by every worker"
    )
    if not redis_url:
        log.warning("REDIS_URL is empty: %s.", per_worker)
        return MEMORY
    if not storage_from_string(redis_url, **REDIS_OPTIONS).check():
        # The URL itself is not logged: it may hold a password.
        log.warning("The Redis of REDIS_URL does not answer: %s.", per_worker)
        return MEMORY
    return redis_url


def is_health_probe() -> bool:
    """A cache's or load balancer's health check (Varnish probes each node every 2 s): counted,
    it would spend the reads of its address, and under a tight RATE_LIMIT_DEFAULT its 429s
    would mark every node sick."""
    return request.endpoint == "meta.HealthViews"


def init_app(app) -> None:
    # flask-limiter logs every refusal with its key: an anonymous client's is the keyed hash of
    # its address, which a log would keep long after the counters' minute (and which the
    # server's own key reverses by trying every IPv4 address); an account's would date it.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
    config = app.config
    enabled = config["RATELIMIT_ENABLED"]
    storage = counter_storage(config.get("REDIS_URL")) if enabled else MEMORY
    # Registered before the limiter's own hook, so that it runs after it (Flask runs
    # after-request hooks in reverse order).
    app.after_request(retry_after_only_when_refused)
    if enabled:  # before the limiter's hook, which Flask then runs after it
        app.before_request(identify_caller)
    app.extensions["vigie.limiter"] = Limiter(
        key_func=client_key,
        app=app,
        default_limits=[default_rate],
        storage_uri=storage,
        storage_options=REDIS_OPTIONS if storage != MEMORY else {},
        # Should Redis stop answering later, each worker counts in memory until it is back.
        in_memory_fallback_enabled=True,
        # And what fails beyond that fallback (a wrong password counted once the answer is
        # ready, which it does not cover) is logged, not made a 500 of an answer already made.
        swallow_errors=True,
        key_prefix=config["RATELIMIT_KEY_PREFIX"],
        headers_enabled=True,
        enabled=enabled,
    )
    app.extensions["vigie.limiter"].request_filter(is_health_probe)
    if enabled:  # after the limiter's own check: the default limit
        app.before_request(remember_checked_limits)
