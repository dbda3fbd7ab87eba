"""Configuration read from environment variables, with safe defaults for a local run."""

import math
import os
import secrets
import tempfile
from pathlib import Path

from limits import parse_many

PROJECT_DIR = Path(__file__).resolve().parent.parent


def default_database_url() -> str:
    """Point at the private cluster that `make run` keeps under var/pg (unix socket only)."""
    return f"postgresql+psycopg://vigie@/vigie?host={PROJECT_DIR / 'var' / 'pg' / 'run'}"


def local_secret_key(path: Path = PROJECT_DIR / "var" / "secret_key") -> str:
    """A key kept in PATH, so that every worker and restart shares it.

    The first process to start writes it whole under a temporary name, then links it into
    place: a worker starting at the same moment reads that key, never a half-written one. A
    key that cannot be read stops the start: a key of each process's own would make every
    node check fail and every token and reserved pseudonym change at each restart.
    """
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = None
    except OSError as exc:
        raise SystemExit(
            f"{path} cannot be read ({exc.strerror}): let the service's user read it, or set "
            "SECRET_KEY."
        ) from None
    if key == "":
        raise SystemExit(f"{path} is empty: delete it (a key is then made), or set SECRET_KEY.")
    if key is not None:
        return key
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(temporary, path)  # fails if another process linked its key first
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    except OSError as exc:
        raise SystemExit(
            f"No key can be kept in {path} ({exc.strerror}): set SECRET_KEY, or let the "
            "service's user write there."
        ) from None
    return path.read_text().strip()


# A key anyone could guess would let them recompute the hashes it keys (reserved pseudonyms,
# anonymous clients' rate-limit identifiers).
MIN_SECRET_KEY_CHARS = 32


def env_secret_key() -> str | None:
    """SECRET_KEY from the environment, when given; one too short to resist guessing stops
    the start."""
    key = os.environ.get("SECRET_KEY", "").strip()
    if key and len(key) < MIN_SECRET_KEY_CHARS:
        raise SystemExit(
            f"SECRET_KEY has {len(key)} characters: give it {MIN_SECRET_KEY_CHARS} or more, "
            "random (python3 -c 'import secrets; print(secrets.token_hex(32))')."
        )
    return key or None


def env_int(name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    """The whole number in the environment variable NAME, else DEFAULT; any other value, or one
    out of MINIMUM..MAXIMUM, stops the start with the setting named, not a bare traceback (or,
    for TRUSTED_PROXIES=-1, a 500 to every request with X-Forwarded-For)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {value!r}") from None
    return within(name, number, minimum, maximum)


def listed(setting: str) -> list[str]:
    """The items of a comma-separated setting (CORS_ORIGINS...), blanks left out."""
    return [item.strip() for item in setting.split(",") if item.strip()]


def env_rate_limit(name: str, default: str) -> str:
    """The rate limit in the environment variable NAME (`60 per minute`, `10/hour;100/day`),
    else DEFAULT. One the limiter cannot read stops the start: it would not apply, with one
    error logged per request."""
    value = os.environ.get(name, "").strip() or default
    try:
        parse_many(value)
    except ValueError:
        raise SystemExit(
            f"{name} is not a rate limit: {value!r} (write it as `60 per minute`, `10/hour`, "
            "or several joined by `;`)"
        ) from None
    return value


def env_number(
    name: str, default: float, minimum: float = 0, maximum: float | None = None
) -> float:
    """The number in the environment variable NAME, else DEFAULT; any other value (NaN and
    infinities included), or one out of MINIMUM..MAXIMUM, stops the start with the setting
    named."""
    value = os.environ.get(name, "").strip()
    if not value:
        return float(default)
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise SystemExit(f"{name} must be a number, not {value!r}")
    return within(name, number, minimum, maximum)


def within(name: str, number, minimum, maximum):
    """NUMBER, read from the setting NAME, if it lies in MINIMUM..MAXIMUM; else the start stops
    with the setting named."""
    if number < minimum or (maximum is not None and number > maximum):
        bounds = (
            f"from {minimum:g} to {maximum:g}" if maximum is not None else f"{minimum:g} or more"
        )
        raise SystemExit(f"{name} must be {bounds}, not {number:g}")
    return number


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def env_flag(name: str, default: bool) -> bool:
    """The switch in the environment variable NAME, else DEFAULT; a word that is none of
    TRUE_WORDS or FALSE_WORDS (a typo) stops the start rather than read as either."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in TRUE_WORDS + FALSE_WORDS:
        raise SystemExit(
            f"{name} is a switch: {', '.join(TRUE_WORDS)} or {', '.join(FALSE_WORDS)}, "
            f"not {os.environ[name]!r}"
        )
    return value in TRUE_WORDS


def view_radii(text: str, name: str = "VIEW_RADII") -> dict[str, float]:
    """The radius in metres per camera type of TEXT ('fixed=30,dome=20'); a pair it cannot
    read stops the start with NAME named (read per request, it would fail every view)."""
    radii = {}
    for item in filter(str.strip, text.split(",")):
        camera_type, _, metres = item.partition("=")
        try:
            radius = float(metres)
        except ValueError:
            radius = math.nan
        if not camera_type.strip() or not math.isfinite(radius) or radius <= 0:
            raise SystemExit(
                f"{name} lists camera types and metres as type=metres,... "
                f"(such as fixed=30,dome=20), not {item.strip()!r}"
            )
        radii[camera_type.strip()] = radius
    return radii


def database_url(value: str) -> str:
    """VALUE with the driver Vigie uses: libpq's and Heroku's postgres:// and postgresql://
    spellings name the same databases."""
    for scheme in ("postgres://", "postgresql://"):
        if value.startswith(scheme):
            return "postgresql+psycopg://" + value.removeprefix(scheme)
    return value


class Config:
    """Every setting, each overridable by the environment variable of the same name (but
    MAX_CONTENT_LENGTH, read from MAX_JSON_BYTES; the API_ and OPENAPI_ settings are fixed)."""

    def __init__(self, **overrides):
        env = os.environ
        self.DATABASE_URL = database_url(env.get("DATABASE_URL") or default_database_url())
        self.SECRET_KEY = env_secret_key() or local_secret_key()
        self.DB_POOL_SIZE = env_int("DB_POOL_SIZE", 5, minimum=1)
        # The longest a statement waits for a lock another holds (a migration's ALTER TABLE, a
        # VACUUM FULL, a restore): beyond, the request is a 503 rather than a hang.
        self.DB_LOCK_TIMEOUT_MS = env_int("DB_LOCK_TIMEOUT_MS", 5000)
        # Streaming standbys of DATABASE_URL (comma-separated) for reads (docs/replicas.md): one
        # more than REPLICA_MAX_LAG_SECONDS behind is skipped, health checked at most every
        # REPLICA_CHECK_SECONDS by each process.
        self.DATABASE_REPLICA_URLS = env.get("DATABASE_REPLICA_URLS", "")
        self.REPLICA_MAX_LAG_SECONDS = env_number("REPLICA_MAX_LAG_SECONDS", 5)
        self.REPLICA_CHECK_SECONDS = env_number("REPLICA_CHECK_SECONDS", 1)
        # Request bodies larger than this are refused with 413 before being read.
        self.MAX_CONTENT_LENGTH = env_int("MAX_JSON_BYTES", 4 * 1024 * 1024, minimum=1)
        # A request holding an Idempotency-Key without an answer after this long is over (its
        # answer could not be stored): a retry runs it again. Longer than any request may run.
        self.IDEMPOTENCY_IN_FLIGHT_SECONDS = env_int("IDEMPOTENCY_IN_FLIGHT_SECONDS", 60)
        # The longest an OGC page with a client's filter (CQL2, property values) may compute.
        self.FILTER_TIMEOUT_MS = env_int("FILTER_TIMEOUT_MS", 5000)
        # Accounts and moderation.
        self.TOKEN_LIFETIME_DAYS = env_int("TOKEN_LIFETIME_DAYS", 90, minimum=1)
        # A deleted account's pseudonym is nobody else's for this long (0: free at once).
        self.DELETED_USERNAME_RESERVED_DAYS = env_int("DELETED_USERNAME_RESERVED_DAYS", 90)
        self.TRUSTED_AFTER_APPROVED_PINS = env_int("TRUSTED_AFTER_APPROVED_PINS", 5)
        self.NEW_ACCOUNT_PINS_PER_HOUR = env_int("NEW_ACCOUNT_PINS_PER_HOUR", 20)
        self.DUPLICATE_DISTANCE_M = env_number("DUPLICATE_DISTANCE_M", 15)
        # A merge of devices of two kinds, or farther apart than this, needs force=true.
        self.MERGE_DISTANCE_M = env_number("MERGE_DISTANCE_M", 100)
        self.CONFIRMATION_INTERVAL_DAYS = env_int("CONFIRMATION_INTERVAL_DAYS", 30)
        # Rate limits (flask-limiter syntax), counted in Redis, shared by every worker; in each
        # worker's memory when REDIS_URL is empty or its Redis does not answer at start.
        self.REDIS_URL = env.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        self.RATELIMIT_ENABLED = env_flag("RATELIMIT_ENABLED", True)
        self.RATELIMIT_KEY_PREFIX = env.get("RATELIMIT_KEY_PREFIX", "vigie")
        self.RATE_LIMIT_DEFAULT = env_rate_limit("RATE_LIMIT_DEFAULT", "600 per minute")
        self.RATE_LIMIT_WRITES = env_rate_limit("RATE_LIMIT_WRITES", "60 per minute")
        # Requests for downloads, each byte range one (GDAL reads a file by many): apart from
        # RATE_LIMIT_DEFAULT.
        self.RATE_LIMIT_DOWNLOADS = env_rate_limit("RATE_LIMIT_DOWNLOADS", "6000 per minute")
        self.RATE_LIMIT_AUTH = env_rate_limit("RATE_LIMIT_AUTH", "10 per minute")
        self.RATE_LIMIT_LOGIN_FAILURES = env_rate_limit("RATE_LIMIT_LOGIN_FAILURES", "20 per hour")
        # Photos: the largest upload accepted, and the largest decoded image (decompression bombs).
        self.PHOTO_MAX_BYTES = env_int("PHOTO_MAX_BYTES", 25 * 1024 * 1024, minimum=1)
        self.PHOTO_MAX_PIXELS = env_int("PHOTO_MAX_PIXELS", 64_000_000, minimum=1)
        self.PHOTO_DECODES_PER_WORKER = env_int("PHOTO_DECODES_PER_WORKER", 1, minimum=1)
        self.PHOTO_LOOSE_MAX = env_int("PHOTO_LOOSE_MAX", 50)
        self.PHOTO_DECODE_WAIT_SECONDS = env_int("PHOTO_DECODE_WAIT_SECONDS", 30)
        # Uploads never attached to a device are removed by `flask photos clean-orphans`.
        self.PHOTO_ORPHAN_HOURS = env_int("PHOTO_ORPHAN_HOURS", 24)
        # Where processed photos live: the local MEDIA_ROOT, or an S3 bucket when S3_BUCKET is set.
        self.MEDIA_ROOT = env.get("MEDIA_ROOT") or str(PROJECT_DIR / "var" / "media")
        self.S3_BUCKET = env.get("S3_BUCKET") or None
        self.S3_ENDPOINT_URL = env.get("S3_ENDPOINT_URL") or None
        self.S3_REGION = env.get("S3_REGION") or None
        self.S3_PRESIGNED_URLS = env_flag("S3_PRESIGNED_URLS", True)
        self.S3_PRESIGN_SECONDS = env_int("S3_PRESIGN_SECONDS", 3600)
        # How long browsers keep a public photo before asking again (an ETag makes that a 304):
        # a photo deleted, or whose pin went back to review, then stops showing from their cache.
        self.PHOTO_MAX_AGE = env_int("PHOTO_MAX_AGE", 86400)
        # Where GeoPackage and FlatGeobuf downloads are kept while their data is current: a
        # folder of each node, which a newer version of a download replaces file by file.
        self.DOWNLOADS_ROOT = env.get("DOWNLOADS_ROOT") or str(PROJECT_DIR / "var" / "downloads")
        # How long a request waits for another writing the same download (then a 503): less
        # than a reverse proxy waits for an answer (nginx's proxy_read_timeout, 60 s).
        self.DOWNLOAD_WAIT_SECONDS = env_int("DOWNLOAD_WAIT_SECONDS", 50)
        self.GEODATA_DIR = env.get("GEODATA_DIR") or str(PROJECT_DIR.parent / "shared" / "data")
        # Catalogue dataset that `make run` loads when no districts of it are stored ("" = none).
        self.DEFAULT_DISTRICTS = env.get("DEFAULT_DISTRICTS", "paris-arrondissements")
        # Keep computed statistics for the next identical request until the data changes.
        self.STATS_CACHE = env_flag("STATS_CACHE", True)
        self.STATS_CACHE_MAX_ENTRIES = env_int("STATS_CACHE_MAX_ENTRIES", 10_000)
        # Longest time a request with watched=true may compute (a union of cones per district).
        self.STATS_WATCHED_TIMEOUT_MS = env_int("STATS_WATCHED_TIMEOUT_MS", 20000)
        # View cones: radius in metres per camera type ("type=metres,..."), else the default;
        # the field of view assumed when a camera has a direction but no angle.
        self.VIEW_RADII = env.get("VIEW_RADII", "fixed=30,dome=20,panning=50")
        view_radii(self.VIEW_RADII)  # checked now, read per request
        self.VIEW_DEFAULT_RADIUS_M = env_number("VIEW_DEFAULT_RADIUS_M", 30)
        self.VIEW_DEFAULT_FOV = env_number("VIEW_DEFAULT_FOV", 60, minimum=1, maximum=360)
        # Credit served with statistics for the device data itself.
        self.DEVICES_ATTRIBUTION = env.get("DEVICES_ATTRIBUTION", "Vigie contributors")
        self.DEVICES_LICENCE = env.get("DEVICES_LICENCE", "ODbL 1.0")
        # Basemap of the web app: a raster tile URL template with its credit, or a PMTiles
        # archive on this server's disk, served by Vigie itself (BASEMAP_PMTILES wins when set).
        self.BASEMAP_URL = env.get("BASEMAP_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
        self.BASEMAP_ATTRIBUTION = env.get("BASEMAP_ATTRIBUTION", "© OpenStreetMap contributors")
        self.BASEMAP_PMTILES = env.get("BASEMAP_PMTILES") or None
        # Shared HTTP caches in front (docs/deployment.md): the URLs (comma-separated) that
        # take a PURGE naming surrogate keys after each change of devices ("" = none); how long
        # a shared cache keeps answers (a day when purges keep it current, else a minute); how
        # long it may serve one stale while it fetches anew; how long a write's answer waits
        # for its purge to be sent, so that its author's next read shows the change.
        self.CACHE_PURGE_URL = env.get("CACHE_PURGE_URL", "")
        self.CACHE_SHARED_MAX_AGE = (
            env_int("CACHE_SHARED_MAX_AGE", 0) if env.get("CACHE_SHARED_MAX_AGE") else None
        )
        self.CACHE_STALE_SECONDS = env_int("CACHE_STALE_SECONDS", 60)
        # Tiles below this zoom, and answers over wider areas, are not purged (every write in
        # their region would): shared caches keep them CACHE_WIDE_MAX_AGE seconds.
        self.CACHE_PURGE_MIN_ZOOM = env_int("CACHE_PURGE_MIN_ZOOM", 10)
        self.CACHE_WIDE_MAX_AGE = env_int("CACHE_WIDE_MAX_AGE", 60)
        self.CACHE_PURGE_WAIT_MS = env_int("CACHE_PURGE_WAIT_MS", 500)
        # Reverse proxies in front of Vigie (nginx: 1) whose X-Forwarded-For/-Proto/-Host to trust.
        self.TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)
        # Flask refuses (400) a request whose Host is none of these; empty: any host.
        self.TRUSTED_HOSTS = listed(env.get("TRUSTED_HOSTS", "")) or None
        # Cross-origin reads are open to every site by default; list origins to narrow them.
        self.CORS_ORIGINS = env.get("CORS_ORIGINS", "*")
        # Methods other sites may use from a browser (add POST,PATCH,DELETE to let them write).
        self.CORS_METHODS = env.get("CORS_METHODS", "GET,HEAD,OPTIONS")
        self.API_TITLE = "Vigie"
        self.API_VERSION = "1.0.0"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "/docs"
        self.OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"
        self.__dict__.update(overrides)

    def as_flask_mapping(self) -> dict:
        return dict(self.__dict__)
