"""How responses travel to browsers and phones: CORS, negotiated compression, cache validators,
and the security headers every answer carries."""

import gzip
import re

import brotli
import xxhash
from flask import Response, request
from flask_cors import CORS
from werkzeug.datastructures import MIMEAccept, Range
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import parse_range_header

from . import idempotency, replicas
from .caching import cache_headers
from .config import listed
from .errors import RATE_LIMIT_HEADERS, PreconditionFailed, RangeNotSatisfiable

# Text formats worth compressing; binary tiles and images are left alone.
COMPRESSIBLE = {
    "application/geo+json",
    "application/json",
    "application/problem+json",
    "application/schema+json",
    "application/vnd.oai.openapi+json",
    "application/vnd.openstreetmap.data+xml",
    "text/html",
    "text/csv",
}
ENCODERS = {
    "br": lambda data: brotli.compress(data, quality=4),
    "gzip": lambda data: gzip.compress(data, compresslevel=5),
}
MIN_COMPRESSED_BYTES = 500
# A compressed answer is another representation of the content (RFC 9110, 8.8.3): its strong
# ETag names the coding, `"<tag>.br"` (as Apache does; no tag of Vigie's has a dot before its
# last characters), and the tags that clients send back are compared without it, so that a
# device's ETag read compressed still matches If-Match.
CODED_ETAG = re.compile(r'(W/)?"([^"]*)\.(br|gzip)"')
SENT_IF_NONE_MATCH = "vigie.if_none_match"
# An API answer is data, never a page: a browser that opens one must run, load and frame nothing.
API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"


def accepted_media_types() -> MIMEAccept:
    """The request's Accept with the media types' parameters left out: `text/csv;
    charset=utf-8` asks for CSV (Werkzeug would take it for another type than text/csv)."""
    return MIMEAccept(
        [(value.partition(";")[0].strip(), quality) for value, quality in request.accept_mimetypes]
    )


def chosen_encoding() -> str | None:
    """The best coding the client accepts, by its q-values; brotli wins ties."""
    if "Accept-Encoding" not in request.headers:
        return None
    accepted = request.accept_encodings
    best = max(ENCODERS, key=lambda coding: accepted[coding], default=None)
    return best if best and accepted[best] > 0 else None


def validators_without_coding() -> None:
    """The ETags a request names, read as the content's own tags (see CODED_ETAG). In
    If-None-Match, a copy in a coding the client no longer takes is no copy it can use: its
    tag matches nothing (a 304 would validate it). The If-None-Match sent is kept, for the 304
    to name the representation the client holds."""
    environ = request.environ
    if "HTTP_IF_NONE_MATCH" in environ:
        sent = environ[SENT_IF_NONE_MATCH] = environ["HTTP_IF_NONE_MATCH"]
        coding = chosen_encoding()
        environ["HTTP_IF_NONE_MATCH"] = without_coding(sent, lambda used: used == coding)
    for key in ("HTTP_IF_MATCH", "HTTP_IF_RANGE"):
        if key in environ:
            environ[key] = without_coding(environ[key])


def without_coding(tags: str, taken=lambda coding: True) -> str:
    """TAGS (a header's entity tags) as the content's own: a coded one whose coding is not
    TAKEN is dropped."""
    return CODED_ETAG.sub(lambda tag: f'{tag[1] or ""}"{tag[2]}"' if taken(tag[3]) else "", tags)


def with_coding_in_etag(response: Response, coding: str) -> None:
    tag, weak = response.get_etag()
    if tag:
        response.set_etag(f"{tag}.{coding}", weak)


def not_modified_as_sent(response: Response) -> Response:
    """A 304 names the representation the client holds: the coded tag it sent, if it sent one
    of a coding it still accepts."""
    sent = request.environ.get(SENT_IF_NONE_MATCH, "")
    tag, _weak = response.get_etag()
    coding = chosen_encoding()
    if tag and coding and f'{tag}.{coding}"' in sent:
        with_coding_in_etag(response, coding)
    return response


def compress(response: Response) -> Response:
    """Compress text bodies for clients that ask for it; the ETag then names the coding."""
    if response.mimetype not in COMPRESSIBLE:
        return response
    # Added rather than merged into an existing Vary: a second field is the same list (RFC 9110
    # section 5.3), and merging parses the header on every response.
    response.headers.add("Vary", "Accept-Encoding")
    if response.status_code == 304:
        return not_modified_as_sent(response)
    if (
        response.status_code != 200
        or response.direct_passthrough
        or response.is_streamed
        or "Content-Encoding" in response.headers
        or (response.content_length or 0) < MIN_COMPRESSED_BYTES
    ):
        return response
    coding = chosen_encoding()
    if coding is None:
        return response
    response.set_data(ENCODERS[coding](response.get_data()))
    response.headers["Content-Encoding"] = coding
    with_coding_in_etag(response, coding)
    return response


def conditional_response(body: str | bytes, mimetype: str, headers=None) -> Response:
    """A listing with a cheap ETag (a hash of its bytes), or 304 when the client has it.

    A 304 is typed as its 200 would be (Werkzeug sends no Content-Type on a 304): the headers
    that depend on the type, Vary and the security policy, are then those of the 200, which a
    cache updates its copy with (RFC 9110, 15.4.5)."""
    data = body.encode() if isinstance(body, str) else body
    # A 128-bit XXH3: about 25 times faster than SHA-256 on a page of 1000 Features, and a
    # validator needs no resistance to forgery (a client only compares its own copies).
    etag = xxhash.xxh3_128_hexdigest(data)
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304, mimetype=mimetype, headers=headers)
    else:
        response = Response(data, mimetype=mimetype, headers=headers)
    response.set_etag(etag)
    return response


def file_in_ranges(response: Response, etag: str | None, size: int) -> Response:
    """RESPONSE, a file of SIZE bytes named by the strong ETAG, as the request's preconditions
    and Range ask (RFC 9110, 13.2.2), which Werkzeug's make_conditional gets wrong in places:
    If-Match first (a 412 problem, not the file), then If-None-Match (a 304, Range or not), then
    one byte range, honoured only if If-Range, when sent, names this file by its strong ETag.
    A file of no ETag (written for one answer) matches `*` alone, and is sent whole."""
    if etag is not None:
        response.set_etag(etag)
        response.accept_ranges = "bytes"
    if request.if_match and not (
        request.if_match.star_tag or (etag is not None and request.if_match.contains(etag))
    ):
        response.close()
        raise PreconditionFailed("The file has another ETag now.", field="If-Match")
    if request.if_none_match.star_tag or (
        etag is not None and request.if_none_match.contains_weak(etag)
    ):
        response.close()
        not_modified = Response(status=304, mimetype=response.mimetype)
        if etag is not None:
            not_modified.set_etag(etag)
        return not_modified
    asked = None if etag is None else honoured_range(etag, size)
    if asked is None:
        return response
    environ = {"REQUEST_METHOD": request.method, "HTTP_RANGE": asked.to_header()}
    try:
        return response.make_conditional(environ, accept_ranges=True, complete_length=size)
    except RequestedRangeNotSatisfiable as error:
        response.close()
        raise RangeNotSatisfiable(
            f"The file has {size} bytes: the range asked starts past its end.",
            field="Range",
            headers={"Content-Range": f"bytes */{size}"},
        ) from error


def honoured_range(etag: str, size: int) -> Range | None:
    """The request's byte range, if it is one to honour: a Range of another unit, of several
    ranges or unreadable is ignored (the whole file, RFC 9110 14.2), as is one whose If-Range
    names another file, weakly or by a date (this file has no Last-Modified); a suffix longer
    than the file is the whole file (14.1.2)."""
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != f'"{etag}"':
        return None
    asked = parse_range_header(request.headers.get("Range"))
    if asked is None or asked.units != "bytes" or len(asked.ranges) != 1:
        return None
    start, _end = asked.ranges[0]
    return Range("bytes", [(0, None)]) if start < -size else asked


def one_vary_field(response: Response) -> Response:
    """Join the Vary fields that compression and CORS each add into one: some caches (nginx
    before 1.23) read only the first."""
    fields = response.headers.getlist("Vary")
    if len(fields) > 1:
        names = (name.strip() for field in fields for name in field.split(","))
        response.headers["Vary"] = ", ".join(dict.fromkeys(name for name in names if name))
    return response


def security_headers(response: Response) -> Response:
    """Every answer: no MIME sniffing, no Referer leaking a contributor's page to other sites.

    Non-HTML answers get a policy that forbids everything; an HTML page sets its own (the web
    app at / does), and one already set is never overridden. A bodiless answer is typed HTML by
    default: a 204 gets the API's policy and loses that type, a 304 gets no policy (it would
    replace a cached page's policy).
    """
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype != "text/html" or response.status_code == 204:
        headers.setdefault("Content-Security-Policy", API_CONTENT_SECURITY_POLICY)
    if response.status_code == 204:
        headers.remove("Content-Type")  # no content, no type (Flask's default says HTML)
    return response


def vary_by_origin(response: Response) -> Response:
    response.vary.add("Origin")
    return response


def init_app(app) -> None:
    app.before_request(validators_without_coding)
    # Registered first so that it runs last (Flask runs after-request hooks in reverse order).
    app.after_request(one_vary_field)
    app.after_request(cache_headers)
    origins = listed(app.config["CORS_ORIGINS"])
    methods = [method.upper() for method in listed(app.config["CORS_METHODS"])]
    if origins != ["*"]:
        # Each answer then depends on the Origin asked from, refused ones too: a shared cache
        # must not hand a copy made for another origin (or for none) to an allowed one.
        app.after_request(vary_by_origin)
    CORS(
        app,
        origins=origins,
        # An open API answers "*" rather than echoing each origin: one cached copy for all.
        send_wildcard=origins == ["*"],
        methods=methods,
        expose_headers=[
            "ETag",
            "Location",
            "Link",
            "Content-Disposition",
            "Retry-After",
            replicas.HEADER,
            idempotency.REPLAYED_HEADER,
            # What a map page on another site shows or checks: the credits it must display,
            # a statistic's freshness, a geometry's CRS (OGC API Part 2), the limits left.
            "X-Attribution",
            "X-Licence",
            "X-Statistics-Computed-At",
            "X-Cache",
            "Content-Crs",
            # A PMTiles reader, or a download read by ranges, on another site checks which
            # range it got, and whether ranges are served.
            "Content-Range",
            "Accept-Ranges",
            # Why a token was refused (RFC 6750: error="invalid_token").
            "WWW-Authenticate",
            *RATE_LIMIT_HEADERS,
        ],
        allow_headers=[
            "Content-Type",
            "If-Match",
            "If-None-Match",
            "Authorization",
            # Reading the PMTiles basemap (or a tile archive, a download) by ranges from
            # another site, a download cut short resumed with If-Range.
            "Range",
            "If-Range",
            replicas.HEADER,
            idempotency.HEADER,
        ],
        max_age=86400,
    )
    app.after_request(compress)
    app.after_request(security_headers)
