"""Project-local flask-smorest classes: every error becomes application/problem+json."""

import functools
import http
import json
import logging
import re

import flask_smorest
import marshmallow as ma
import orjson
from apispec import BasePlugin
from flask import Request, Response, current_app, g, has_request_context, request
from flask.json.provider import DefaultJSONProvider
from flask_smorest.utils import prepare_response
from gunicorn.http.errors import NoMoreData, ParseException
from marshmallow import missing
from psycopg import OperationalError as DriverOperationalError
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from webargs.flaskparser import FlaskParser, abort
from werkzeug.exceptions import (
    HTTPException,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
    SecurityError,
)
from werkzeug.routing import BaseConverter, Map, Rule, UUIDConverter

from .errors import (
    LIMIT_HEADERS,
    BadRequest,
    InvalidInput,
    PayloadTooLarge,
    ServiceError,
    ServiceUnavailable,
    TooManyRequests,
    UnsupportedMediaType,
    ValidationFailed,
)
from .server_logs import one_line
from .shared_headers import SharedHeadersPlugin

PROBLEM_JSON = "application/problem+json"
# The validator of an answer, for If-None-Match (a 304) and, of a device, If-Match.
ETAG_HEADER = {"ETag": {"schema": {"type": "string"}, "description": "The answer's validator"}}
# The JSON Schema of a file served as it is (an image, a tile, a GeoPackage).
BINARY = {"type": "string", "format": "binary"}
PROBLEM_TYPE_BASE = "https://vigie.invalid/problems/"
# What a database restart, an unreachable server or an exhausted pool raises: a 503, not a 500.
# (Statement timeouts are OperationalErrors too: a query too slow for now is also a 503.)
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout, DriverOperationalError)
# A deadlock or a serialization failure: the transaction was undone, nothing is wrong with the
# database, and the same request retried succeeds.
TRANSIENT_CONFLICTS = ("40P01", "40001")
DATABASE_RETRY_AFTER_SECONDS = 2
RETRY_AFTER = {
    "description": "Seconds to wait before trying again",
    "schema": {"type": "integer", "minimum": 1},
}
# The headers of the refusals that say when to come back (service/ratelimit.py).
REFUSAL_HEADERS = {
    http.HTTPStatus.TOO_MANY_REQUESTS: {
        "Retry-After": RETRY_AFTER,
        "X-RateLimit-Limit": {
            "description": "Requests the limit that refused this one allows in its window",
            "schema": {"type": "integer"},
        },
        "X-RateLimit-Remaining": {
            "description": "Requests left in that window (0)",
            "schema": {"type": "integer"},
        },
        "X-RateLimit-Reset": {
            "description": "When that window ends (Unix time)",
            "schema": {"type": "integer"},
        },
    },
    http.HTTPStatus.SERVICE_UNAVAILABLE: {"Retry-After": RETRY_AFTER},
    http.HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE: {
        "Content-Range": {
            "description": "bytes */N: the length of the file the range was asked of",
            "schema": {"type": "string"},
        }
    },
}
# Request headers the service's own errors name as their field.
HEADER_FIELDS = {
    "Authorization",
    "Content-Encoding",
    "Content-Type",
    "Host",
    "Idempotency-Key",
    "If-Match",
    "Range",
    "Vigie-WAL-Position",
}
log = logging.getLogger(__name__)
# What gunicorn raises while the app reads a body that is malformed (bad chunked coding) or cut
# short: the message quotes the bytes received.
UNREADABLE_BODY = (ParseException, NoMoreData)


class StrictFormRequest(Request):
    """Flask's request, whose form parsing says when a multipart body cannot be read (cut before
    its closing boundary, or no boundary named): Werkzeug would give an empty form, and the
    view would answer that the parts it needs are missing."""

    def make_form_data_parser(self):
        parser = super().make_form_data_parser()
        parser.silent = False
        return parser

    def _load_form_data(self) -> None:
        try:
            super()._load_form_data()
        except ValueError as exc:
            # Read once: what asks for the form again (the error's field) finds it empty.
            self.__dict__["form"] = self.__dict__["files"] = self.parameter_storage_class()
            if str(exc) == "Missing boundary":
                raise BadRequest(
                    "The Content-Type names no multipart boundary.", field="Content-Type"
                ) from exc
            raise BadRequest(
                "The multipart body ends before its closing boundary: it was cut off, or it is "
                "not multipart. Send it again whole.",
                field="body",
            ) from exc


class FieldErrorSchema(ma.Schema):
    field = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Dotted path of the offending field or parameter, or the "
            "header; null when the error is about the request as a whole"
        },
    )
    location = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Where the field was sent: json, query, headers, files, form, "
            "view_args; null when it was not sent (a missing part) or the rule spans several"
        },
    )
    message = ma.fields.String()


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, with the offending fields listed in `errors`."""

    type = ma.fields.String(metadata={"description": "URI identifying the problem type"})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    errors = ma.fields.List(ma.fields.Nested(FieldErrorSchema))
    # Members some problems add (RFC 9457 extension members).
    deleted_at = ma.fields.String(
        allow_none=True, metadata={"description": "410: when the device was deleted"}
    )
    merged_into = ma.fields.String(
        allow_none=True, metadata={"description": "410: the device a duplicate was merged into"}
    )
    candidates = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "409 on a new pin, a move or a change of kind: devices of the "
            "same kind nearby, nearest first (id, kind, review_status, distance_m, photos, "
            "yours)"
        },
    )
    yours = ma.fields.Boolean(
        metadata={
            "description": "409 on a pin sent again under its id with other content: true, "
            "the device stored under it is the caller's own pin (sent before, its answer lost): "
            "edit it with PATCH"
        }
    )
    voted_on = ma.fields.String(
        metadata={"description": "409 on a second vote: the day of the first (YYYY-MM-DD)"}
    )
    max_bytes = ma.fields.Integer(
        metadata={"description": "413: the largest body (or photo) accepted, in bytes"}
    )
    vote_again_on = ma.fields.String(
        metadata={"description": "409 on a second vote: the first day a vote is taken again"}
    )


# The media types a JSON body is read as. Werkzeug's `is_json` takes any `+json` type too:
# a JSON Patch or merge patch document would be read as a Feature.
JSON_BODY_TYPES = ("application/json", "application/geo+json")


def has_json_body(req=None) -> bool:
    return (req or request).mimetype in JSON_BODY_TYPES


def path_field(value) -> str | None:
    """The name of the path parameter VALUE came in (a 404 names it, as a 400 would), if any:
    an id read elsewhere (a photo's device) names none."""
    return next((name for name, given in (request.view_args or {}).items() if given == value), None)


def field_location(field: str | None) -> str | None:
    """Where the offending field was sent, as webargs names locations (headers, query, path,
    json, files, form); None for a field of no part of the request (a missing upload...)."""
    if field in HEADER_FIELDS:
        return "headers"
    if field is None or not has_request_context():
        return None
    name = field.split(".")[0]
    if name in request.args:
        return "query"
    if name in (request.view_args or {}):
        return "view_args"
    try:
        body = request.get_json(silent=True) if has_json_body() else None
        if isinstance(body, dict) and name in body:
            return "json"
        if name in request.files:
            return "files"
        if name in request.form:
            return "form"
    except (HTTPException, *UNREADABLE_BODY):  # too large or cut short: not read for an error
        return None
    return None


def flatten_messages(messages, location: str | None = None, prefix: str = "") -> list[dict]:
    """Turn webargs' nested {location: {field: [messages]}} into a flat list of field errors."""
    if isinstance(messages, dict):
        if location is None:
            return [err for loc, sub in messages.items() for err in flatten_messages(sub, loc)]
        return [
            err
            for key, sub in messages.items()
            # marshmallow's "_schema" is the object around it: the body itself at the top.
            for err in flatten_messages(
                sub,
                location,
                prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key)),
            )
        ]
    if isinstance(messages, list) and messages and not all(isinstance(m, str) for m in messages):
        return [err for sub in messages for err in flatten_messages(sub, location, prefix)]
    texts = messages if isinstance(messages, list) else [messages]
    return [{"field": prefix or None, "location": location, "message": str(t)} for t in texts]


def problem_response(
    status: int, detail: str, *, slug: str | None = None, errors=None, headers=None, **extra
) -> Response:
    body = {
        "type": PROBLEM_TYPE_BASE + slug if slug else "about:blank",
        "title": http.HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = Response(orjson.dumps(body), status=status, mimetype=PROBLEM_JSON)
    response.headers.update(headers or {})
    # Kept as the problem says, whatever the rate limiter adds (service/ratelimit.py).
    response.intended_limit_headers = {
        name: value for name, value in response.headers.items() if name in LIMIT_HEADERS
    }
    return response


class PathId(str):
    """A path segment where a route takes a UUID (see AnySegment)."""


class AnySegment(BaseConverter):
    """Any one path segment where a route takes a UUID: the route is found all the same."""

    def to_python(self, value):
        return PathId(value)


def malformed_path_id() -> tuple[str, str] | None:
    """(name, value) of the path's id that kept it from a route whose path it is otherwise:
    a 404 then says which part of the path is wrong."""
    lenient = current_app.extensions.get("vigie.lenient_paths")
    if lenient is None:
        lenient = Map(  # any method: the path alone is judged
            [Rule(rule.rule, endpoint=rule.endpoint) for rule in current_app.url_map.iter_rules()],
            converters={"uuid": AnySegment},
        )
        current_app.extensions["vigie.lenient_paths"] = lenient
    try:
        _endpoint, values = lenient.bind_to_environ(request.environ).match()
    except HTTPException:
        return None
    for name, value in values.items():
        if isinstance(value, PathId) and not re.fullmatch(UUIDConverter.regex, value):
            return name, str(value)
    return None


def describe(errors: list[dict]) -> str:
    first = errors[0]
    where = f"{first['field']}: " if first.get("field") else ""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}{first['message']}{more}"


class GeoJsonBodies(BasePlugin):
    """A Feature sent as a body may be declared application/geo+json (what it is) as well as
    application/json: the document says both, so that a generated client may send either."""

    FEATURE_BODIES = ("#/components/schemas/DeviceFeatureIn", "#/components/schemas/DevicePatch")

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            content = operation.get("requestBody", {}).get("content", {})
            body = content.get("application/json")
            if body and body.get("schema", {}).get("$ref") in self.FEATURE_BODIES:
                content.setdefault("application/geo+json", body)


class Api(flask_smorest.Api):
    """Api whose error handlers answer RFC 9457 problem+json, documented as such."""

    ERROR_SCHEMA = ProblemSchema

    def init_app(self, app):
        super().init_app(
            app, spec_kwargs={"extra_plugins": [SharedHeadersPlugin(app), GeoJsonBodies()]}
        )
        self.spec.components.security_scheme(
            "bearerAuth",
            {
                "type": "http",
                "scheme": "bearer",
                "description": "Opaque token from POST /api/v1/auth/tokens",
            },
        )

    def _register_error_handlers(self):
        app = self._app
        app.register_error_handler(HTTPException, self.handle_http_exception)
        app.register_error_handler(
            RequestEntityTooLarge, lambda _error: self.handle_service_error(body_too_large())
        )
        app.register_error_handler(ServiceError, self.handle_service_error)
        app.register_error_handler(IntegrityError, self.handle_integrity_error)
        for unavailable in DATABASE_UNAVAILABLE:
            app.register_error_handler(unavailable, self.handle_database_unavailable)
        app.register_error_handler(Exception, self.handle_unexpected_error)

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            if status in REFUSAL_HEADERS:
                response["headers"] = REFUSAL_HEADERS[status]
            prepare_response(
                response, self.spec, PROBLEM_JSON if status >= 400 else "application/json"
            )
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def handle_http_exception(self, error):
        data = getattr(error, "data", None) or {}
        messages = data.get("messages")
        headers = data.get("headers") or {}
        if messages:
            errors = flatten_messages(messages)
            # A bad query string is the client's request, not the content it sends: 400.
            status = (
                400 if all(e["location"] in ("query", "view_args") for e in errors) else error.code
            )
            return problem_response(
                status, describe(errors), slug="invalid-input", errors=errors, headers=headers
            )
        detail = data.get("message") or error.description
        if error.code == TooManyRequests.status:  # the rate limiter's: it names its limit
            if not getattr(getattr(error, "limit", None), "error_message", None):
                detail = f"Too many requests to this route (at most {detail})"  # the default
            detail = f"{detail}: try again after Retry-After seconds."
            return problem_response(error.code, detail, slug=TooManyRequests.slug, headers=headers)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers = {**headers, "Allow": ", ".join(sorted(error.valid_methods))}
        if isinstance(error, NotFound) and request.url_rule is None:
            malformed = malformed_path_id()
            if malformed:
                name, value = malformed
                message = f"{value!r} is not an id: {name} is a UUID."
                errors = [{"field": name, "location": "view_args", "message": message}]
                return problem_response(404, message, slug="not-found", errors=errors)
        return problem_response(error.code, detail, headers=headers)

    def handle_service_error(self, error: ServiceError):
        location = field_location(error.field)
        errors = (
            [{"field": error.field, "location": location, "message": error.detail}]
            if error.field
            else None
        )
        return problem_response(
            error.status,
            error.detail,
            slug=error.slug,
            errors=errors,
            headers=error.headers,
            **error.extra,
        )

    def handle_integrity_error(self, error: IntegrityError):
        from .db import session

        session.rollback()
        log.info("integrity error on %s %s: %s", request.method, one_line(request.path), error.orig)
        return problem_response(
            409, "The request conflicts with data already stored.", slug="conflict"
        )

    def handle_database_unavailable(self, error: Exception):
        """The database is restarting, unreachable or overloaded: a client should retry."""
        from .db import session

        try:
            session.rollback()
        except DBAPIError:
            session().invalidate()  # the connection is gone: the pool replaces it
        if getattr(getattr(error, "orig", error), "sqlstate", None) in TRANSIENT_CONFLICTS:
            log.warning(
                "write conflict on %s %s: %s", request.method, one_line(request.path), error
            )
            detail = "The request met another write at the same moment and was undone; retry it."
        else:
            log.warning(
                "database unavailable on %s %s: %s", request.method, one_line(request.path), error
            )
            detail = "The database is unavailable for a moment; retry shortly."
        return problem_response(
            503,
            detail,
            slug=ServiceUnavailable.slug,  # one type for every 503: the same advice
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )

    def handle_unexpected_error(self, error: Exception):
        if isinstance(error, HTTPException):
            return self.handle_http_exception(error)
        if isinstance(error, UNREADABLE_BODY):
            # The client's fault, not a bug: its message would copy what the client sent into
            # the logs, so it is neither logged nor repeated.
            return problem_response(400, "The request body could not be read.")
        log.exception("unexpected error on %s %s", request.method, one_line(request.path))
        return problem_response(500, "An unexpected error occurred; it has been logged.")


class UnreadableBody(json.JSONDecodeError):
    """A JSON body the service refuses as a whole, for a reason json.loads does not give.

    A document of its own: webargs reads an error about "" as a missing body."""

    def __init__(self, reason: str):
        super().__init__(reason, "<body>", 0)


def parse_json(data: str | bytes):
    """A JSON body; one nested deeper than Python's stack allows is invalid, not a crash.

    Bytes must be UTF-8 (RFC 8259): json.loads would also take UTF-16 and UTF-8 holding
    surrogates, text PostgreSQL cannot store.
    """
    try:
        if isinstance(data, bytes):
            data = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableBody(f"it is not UTF-8 (byte {exc.start})") from exc
    try:
        return json.loads(data, object_pairs_hook=members_named_once)
    except RecursionError as exc:
        raise UnreadableBody("it nests too deeply") from exc
    except ValueError as exc:  # an integer longer than Python converts (4,300 digits)
        if isinstance(exc, json.JSONDecodeError):
            raise
        raise UnreadableBody("it holds a number too long to read") from exc


def members_named_once(pairs: list) -> dict:
    """An object of a JSON body, refused if it names a member twice: which one counts differs
    from one parser to the next (RFC 8259, 4), so a body a proxy or a client's log reads one way
    would be stored the other."""
    members = dict(pairs)
    if len(members) < len(pairs):
        seen = set()
        twice = next(name for name, _ in pairs if name in seen or seen.add(name))
        raise UnreadableBody(f"one object names the member {json.dumps(twice)} twice")
    return members


def why_unreadable(error: json.JSONDecodeError) -> str:
    """What a client is told of its body json.loads could not read."""
    if isinstance(error, UnreadableBody):
        return f"Invalid JSON body: {error.msg}."
    # json's own messages may end in "at" ("Unterminated string starting at").
    where = f"line {error.lineno}, column {error.colno}"
    at = "" if error.msg.endswith(" at") else " at"
    return f"Invalid JSON body: {error.msg}{at} {where}."


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, with bodies read by parse_json."""

    sort_keys = False

    def loads(self, s, **kwargs):
        return parse_json(s)


class ArgumentsParser(FlaskParser):
    """webargs' parser, with bodies read by parse_json (too deep is an invalid body: 400), and
    a query parameter that takes one value refused when given several (webargs would take the
    first in silence: `parent=13&parent=69` would answer for 13 alone)."""

    def _raw_load_json(self, req):
        if not has_json_body(req):
            return missing
        data = req.get_data(cache=True)
        if not data or data.isspace():  # isspace stops at the first other byte: no copy
            # Declared JSON, sent empty: no JSON text (webargs would read it as `{}` and
            # answer that every field is missing).
            raise UnreadableBody("it is empty")
        return parse_json(data)

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        """webargs says "Invalid JSON body." whatever is wrong; this says what (and where)."""
        abort(400, exc=error, messages={"json": [why_unreadable(error)]})

    def pre_load(self, location_data, *, schema, req, location):
        if location in ("query", "querystring"):
            single = {field.data_key or name for name, field in schema.fields.items()}
            single -= location_data.multiple_keys
            repeated = sorted(key for key in single if len(req.args.getlist(key)) > 1)
            if repeated:
                message = "Given more than once: give one value (a list, where one is taken, "
                message += "as comma-separated values)."
                raise ma.ValidationError({key: [message] for key in repeated})
        return super().pre_load(location_data, schema=schema, req=req, location=location)


class Blueprint(flask_smorest.Blueprint):
    """Blueprint with shorthands for documented error answers and authentication."""

    ARGUMENTS_PARSER = ArgumentsParser()

    def arguments(self, schema, *, location="json", **kwargs):
        """A bad query string is the client's request, not content it sends: a 400, as
        handle_http_exception answers, and documented so (not webargs' 422).

        A schema class is made into its instance once, here: webargs would make one for
        every request (copying each declared field), a tenth of a small listing's time.
        """
        if location in ("query", "querystring", "view_args"):
            kwargs.setdefault("error_status_code", 400)
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, location=location, **kwargs)

    def auth(self, role: str | None = None):
        """The route needs a bearer token (and ROLE); documents security, 401 and 403."""
        from .auth import login_required

        def decorator(func):
            func = login_required(role)(func)
            func.needs_account = True  # (body_left_unread)
            func = self.problems(*((401, 403) if role else (401,)))(func)
            return self.doc(security=[{"bearerAuth": []}])(func)

        return decorator

    def reads_caller(self):
        """The route answers anyone, and shows a token's holder their own pending pins: the
        token is optional, and a bad or expired one is a 401 (documented so)."""

        def decorator(func):
            func = self.problems(401)(func)
            return self.doc(security=[{}, {"bearerAuth": []}])(func)

        return decorator

    def if_match(self, required: bool, when: str = ""):
        """Document the If-Match header the route checks against the device's ETag (428
        without it when REQUIRED, 412 when stale; WHEN says when it is needed otherwise)."""
        description = "The device's current ETag (from GET /api/v1/devices/{id} or the last "
        description += "answer that changed it): a stale one is a 412" + (
            "; without it, a 428." if required else f"; {when or 'optional'}."
        )
        parameter = {
            "in": "header",
            "name": "If-Match",
            "required": required,
            "schema": {"type": "string"},
            "description": description,
        }
        return self.doc(parameters=[parameter])

    def served_as(
        self,
        contents: dict[str, dict],
        status: int = 200,
        description: str = "OK",
        headers: dict | None = None,
    ):
        """Document a response served in several media types (an `f=` parameter picks one),
        or as a file: CONTENTS maps each media type to its JSON Schema (BINARY for a file).
        Replaces what `response` says, HEADERS included."""
        content = {media_type: {"schema": schema} for media_type, schema in contents.items()}
        response = {"description": description, "content": content}
        return self.doc(
            responses={str(status): response | ({"headers": headers} if headers else {})}
        )

    def problems(self, *statuses: int):
        def decorator(func):
            for status in statuses:
                func = self.alt_response(
                    status,
                    description=http.HTTPStatus(status).phrase,
                    schema=ProblemSchema,
                    content_type=PROBLEM_JSON,
                    headers=REFUSAL_HEADERS.get(status),
                )(func)
            return func

        return decorator


api = Api(
    spec_kwargs={
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Token from POST /api/v1/auth/tokens",
                }
            }
        }
    }
)


def requires_json(func):
    """Refuse a body that is not JSON with 415, before schemas report missing fields."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if not has_json_body():
            raise UnsupportedMediaType(
                f"Send the body as application/json or application/geo+json, not "
                f"{request.mimetype or 'an undeclared type'}.",
                field="Content-Type",
            )
        return func(*args, **kwargs)

    return wrapper


# Text refused in bodies: what PostgreSQL's UTF-8 text cannot store (NUL, and halves of a
# surrogate pair left alone: JSON may write one as "\ud800"; a pair, as JSON writes emoji,
# decodes to one character), and what XML 1.0 cannot carry, which would make the OSM export
# unreadable (control characters other than tab and line breaks, U+FFFE and U+FFFF).
UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
NUL = re.compile("\x00")
# How JSON writes them (it must escape control characters, backspace and form feed as \b and
# \f), to clear most bodies without walking them.
UNSTORABLE_ESCAPE = re.compile(
    rb"\\(?:[bf]|u(?:00[01][0-9a-fA-F]|[dD][89a-fA-F]|[fF]{3}[eEfF]))|\xef\xbf[\xbe\xbf]"
)


def unstorable_path(value, unstorable: re.Pattern = UNSTORABLE) -> str | None:
    """The dotted path of the first string (or key) holding a character of UNSTORABLE, if any.

    Walks with a stack of its own: a body may nest as deep as the JSON parser allows.
    """
    pending = [("", value)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if unstorable.search(value):
                return path
            continue
        if isinstance(value, dict):
            items = [(str(key), item) for key, item in value.items()]
        elif isinstance(value, list):
            items = [(str(index), item) for index, item in enumerate(value)]
        else:
            continue
        for name, _item in items:
            if unstorable.search(name):
                return f"{path}.{name}" if path else name
        pending += [(f"{path}.{n}" if path else n, item) for n, item in reversed(items)]
    return None


def body_too_large() -> ServiceError:
    """What Werkzeug's RequestEntityTooLarge means for this request: the route's own answer
    when it set one in `g.body_too_large` (a photo's limit, or a part it cannot read), else
    the 413 of the body limit."""
    if "body_too_large" in g:
        return g.body_too_large()
    limit = request.max_content_length
    return PayloadTooLarge(
        f"The request body is larger than the {limit:,} bytes accepted.", max_bytes=limit
    )


# The methods whose bodies routes read: any other's is left unread (a GET's, say).
BODY_METHODS = {"POST", "PUT", "PATCH"}


def body_left_unread() -> bool:
    """Whether the request's body is never read: a method whose bodies routes do not read (a
    GET's), or a request refused before its body would be: no such route (404, 405), or a
    route that needs an account and no token came (401). A client sending one slowly then
    holds no thread for it."""
    if request.method not in BODY_METHODS or request.routing_exception is not None:
        return True
    view = current_app.view_functions.get(request.endpoint)
    method = getattr(getattr(view, "view_class", None), request.method.lower(), None)
    return getattr(method, "needs_account", False) and "Authorization" not in request.headers


# A container's name (with an underscore, which Werkzeug does not read as a host name), as
# health checks and proxies may pass on.
CONTAINER_NAME = re.compile(r"[A-Za-z0-9._-]+(:[0-9]{1,5})?")


def refuse_malformed_hosts():
    """A Host header that is no host name, or none in HTTP/1.1, is a 400 naming it,
    TRUSTED_HOSTS set or not.

    Werkzeug reads such a Host as no host at all: links and cached copies were then written
    under none (`Host: a@evil.example` made `http:///api/v1/...`).
    """
    host = request.headers.get("Host")
    # HTTP/1.1 requires it (RFC 9112, 3.2): without it, links were written under the address
    # the server listens on. HTTP/1.0 has none to send, and gets that address.
    if host is None and request.environ.get("SERVER_PROTOCOL") != "HTTP/1.0":
        raise InvalidInput("An HTTP/1.1 request names its host in a Host header.", field="Host")
    try:
        named = request.host
    except SecurityError:  # not one of TRUSTED_HOSTS: a 400 that named nothing
        raise InvalidInput(
            "The Host header names a host this server does not answer to.", field="Host"
        ) from None
    if host is not None and not named and not CONTAINER_NAME.fullmatch(host):
        raise InvalidInput("The Host header is not a host name (and port).", field="Host")
    # A label of more than 63 characters, or a name of more than 253, is no DNS name: Werkzeug
    # routes such a Host nowhere, a 400 that named nothing.
    name = (host or "").rsplit(":", 1)[0] if not (host or "").startswith("[") else ""
    if len(name) > 253 or any(len(label) > 63 for label in name.split(".")):
        raise InvalidInput(
            "The Host header is not a host name: a name has at most 253 characters, each of "
            "its labels (between dots) at most 63.",
            field="Host",
        )


def refuse_encoded_bodies():
    """A body sent with a Content-Encoding is a 415 naming the header (RFC 9110, 15.5.16):
    bodies are read as they come, so a gzipped one would be answered as invalid JSON, and a
    coding the server does not know read as if it were none."""
    coding = request.headers.get("Content-Encoding", "").strip().lower()
    has_body = request.content_length or "Transfer-Encoding" in request.headers
    if coding not in ("", "identity") and has_body and request.method in BODY_METHODS:
        raise UnsupportedMediaType(
            f"Request bodies are read as they are sent: send this one without Content-Encoding "
            f"(it says {coding}).",
            field="Content-Encoding",
            headers={"Accept-Encoding": "identity"},
        )


def refuse_bodies_over_the_limit():
    """A JSON body over the limit is a 413 however it is sent.

    With a Content-Length, Werkzeug refuses it before reading it (RequestEntityTooLarge). A
    chunked body has none: Werkzeug then reads it up to the limit and stops without a word,
    and the JSON cut there would be answered as invalid (400).
    """
    limit = request.max_content_length
    if limit is None or request.content_length is not None or not has_json_body():
        return
    if body_left_unread():
        return
    if len(request.get_data(cache=True)) >= limit:
        raise body_too_large()


def reject_unstorable_text():
    """Refuse NUL characters anywhere in the input (PostgreSQL text cannot store them), and
    in bodies the other characters of UNSTORABLE."""
    # A URL carries a NUL percent-encoded (or raw, through a lax server): most requests are
    # cleared without parsing their query.
    query = request.query_string
    if b"%00" in query or b"\x00" in query or "\x00" in request.path:
        for location, values in (
            ("query", request.args.to_dict(flat=False)),
            ("path", request.view_args or {}),
        ):
            field = unstorable_path(values, NUL)
            if field is not None:
                raise InvalidInput(
                    f"The {location} parameter {field.split('.')[0]} contains a NUL character.",
                    field=field.split(".")[0],
                )
    body = request.get_data(cache=True) if has_json_body() and not body_left_unread() else b""
    if UNSTORABLE_ESCAPE.search(body):
        field = unstorable_path(request.get_json(silent=True))
        if field is not None:
            # Named as JSON writes it: a lone surrogate of a key cannot go into the answer;
            # a body that is one string is the body.
            field = field.encode("utf-8", "backslashreplace").decode("utf-8") or "body"
            raise ValidationFailed(
                f"{field}: text may not contain control characters other than tab and line "
                "breaks, U+FFFE, U+FFFF or lone UTF-16 surrogates (\\ud800-\\udfff without "
                "their pair).",
                field=field,
            )
