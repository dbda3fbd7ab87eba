"""The service's own errors: each one knows its HTTP status and its problem+json type."""

from http import HTTPStatus


class ServiceError(Exception):
    """Root of every error the service raises on purpose; rendered as RFC 9457 problem+json."""

    status: int = 400
    slug: str = "bad-request"

    def __init__(self, detail: str, *, field: str | None = None, headers=None, **extra):
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.headers = headers or {}
        self.extra = extra

    @property
    def title(self) -> str:
        return HTTPStatus(self.status).phrase


class BadRequest(ServiceError):
    status, slug = 400, "bad-request"


class ValidationFailed(ServiceError):
    status, slug = 422, "validation-failed"


class InvalidInput(ServiceError):
    """A value of the wrong shape outside a JSON body (a header, say), as webargs' are."""

    status, slug = 400, "invalid-input"


class NotFound(ServiceError):
    status, slug = 404, "not-found"


class Gone(ServiceError):
    status, slug = 410, "gone"


class Conflict(ServiceError):
    status, slug = 409, "conflict"


class PreconditionFailed(ServiceError):
    status, slug = 412, "precondition-failed"


class RangeNotSatisfiable(ServiceError):
    status, slug = 416, "range-not-satisfiable"


class PreconditionRequired(ServiceError):
    status, slug = 428, "precondition-required"


class UnsupportedMediaType(ServiceError):
    status, slug = 415, "unsupported-media-type"


class PayloadTooLarge(ServiceError):
    status, slug = 413, "payload-too-large"


class ServiceUnavailable(ServiceError):
    status, slug = 503, "service-unavailable"


class InsufficientStorage(ServiceError):
    status, slug = 507, "insufficient-storage"


class Unauthorized(ServiceError):
    """RFC 9110 has every 401 carry a challenge: the bearer scheme's (RFC 6750), with ERROR
    the reason a token that was sent is refused (`invalid_token`, `invalid_request`)."""

    status, slug = 401, "unauthorized"

    def __init__(self, detail: str, *, error: str | None = None, **kwargs):
        super().__init__(detail, **kwargs)
        challenge = 'Bearer realm="vigie"' + (f', error="{error}"' if error else "")
        self.headers.setdefault("WWW-Authenticate", challenge)


class Forbidden(ServiceError):
    status, slug = 403, "forbidden"


class TooManyRequests(ServiceError):
    status, slug = 429, "too-many-requests"


# What every answer tells of the rate limit it counts against (flask-limiter's names).
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
# And when to come back: a problem that sets any of them keeps its own over the rate limiter's
# (service/ratelimit.py).
LIMIT_HEADERS = ("Retry-After", *RATE_LIMIT_HEADERS)


class UnprocessableImage(ValidationFailed):
    """An upload that is an image of a supported format, but one the service will not keep."""

    slug = "unprocessable-image"
