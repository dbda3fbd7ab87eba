"""How the API hands out GeoJSON: media types, the FeatureCollection envelope, cursors, links,
and where photo URLs start. Every resource that answers with Features goes through here.

The Features themselves are text written by PostGIS (service/geo); this module only wraps them,
so no Python loop over Features runs on any path.
"""

import base64
import binascii
import struct
import uuid
from collections.abc import Callable, Sequence

import orjson
from flask import request, url_for
from werkzeug.urls import iri_to_uri

from ..errors import InvalidInput

GEOJSON = "application/geo+json"
JSON = "application/json"


def feature_collection(features: str, *, links: list[dict] | None = None, **members) -> str:
    """A FeatureCollection around FEATURES (Feature texts joined by commas).

    MEMBERS follow the features in the order given (numberReturned, numberMatched, ...); a
    member whose value is None is left out. Values are written as JSON; links come last.
    """
    body = ['{"type":"FeatureCollection","features":[', features, "]"]
    for name, value in members.items():
        if value is not None:
            body += [',"', name, '":', orjson.dumps(value).decode()]
    if links is not None:
        body += [',"links":', orjson.dumps(links).decode()]
    body.append("}")
    return "".join(body)


def compact_json(text: str) -> str:
    """JSON that PostgreSQL's json_build_object and json_agg wrote (`{"a" : 1}`, a line break
    between elements) written as every other answer is: small documents only, off hot paths."""
    return orjson.dumps(orjson.loads(text)).decode()


def link(href: str, rel: str, media_type: str = GEOJSON, title: str | None = None) -> dict:
    body = {"href": href, "rel": rel, "type": media_type}
    if title:
        body["title"] = title
    return body


def request_uri() -> str:
    """The request's URL as a URI, for `self` links: Werkzeug's `request.url` decodes the query
    (quotes, `<`, `>`, spaces and accented letters of a CQL2 filter), which no URI may hold."""
    return iri_to_uri(request.url)


def this_url_with(**query) -> str:
    """The request's own URL with some query parameters replaced (a cursor, a format), or
    left out where their value is None."""
    args = request.args.to_dict(flat=False) | query
    args = {name: value for name, value in args.items() if value is not None}
    return url_for(request.endpoint, _external=True, **(request.view_args or {}), **args)


def photo_base() -> str:
    """The absolute URL, ending with "/", under which `<photo id>/<rendition>` serves each image.

    The value of the `photo_base` parameter of every statement that lists photos: there is no
    relative default, so every answer gives URLs a client can follow as they are.
    """
    return url_for("photos.PhotoUploadViews", _external=True).rstrip("/") + "/"


# The parts a cursor position may be made of, and how each is packed.
_FIXED_SIZES = {uuid.UUID: 16, int: 8, bool: 1}


class CursorCodec:
    """Opaque cursors for positions made of typed parts: UUIDs, integers, booleans, and text
    (last only). Page edges come from PostgreSQL as text, parts joined by ':'.

    A cursor that does not decode to such a position, or whose position CHECK refuses (with a
    ValueError), is a 400 naming FIELD, with ADVICE. MARK begins every cursor of this codec, to
    tell them from another's whose positions have the same parts.
    """

    def __init__(
        self,
        *types: type,
        field: str = "cursor",
        advice: str,
        check: Callable[[tuple], None] = lambda _position: None,
        mark: bytes = b"",
    ):
        if str in types[:-1]:
            raise ValueError("only the last part of a position may be text")
        self.types, self.field, self.advice, self.check = types, field, advice, check
        self.mark = mark

    def encode(self, *parts) -> str:
        raw = b"".join(self._pack(kind, part) for kind, part in zip(self.types, parts, strict=True))
        return base64.urlsafe_b64encode(self.mark + raw).decode().rstrip("=")

    def decode(self, cursor: str) -> tuple:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            if not raw.startswith(self.mark):
                raise ValueError("a cursor of another listing")
            position = self._unpack(raw[len(self.mark) :])
            self.check(position)
            return position
        except (binascii.Error, UnicodeDecodeError, ValueError, struct.error) as exc:
            raise InvalidInput(
                f"The cursor is not one this server issued; {self.advice}", field=self.field
            ) from exc

    def parse_edge(self, text: str, types: Sequence[type] | None = None) -> tuple:
        """The typed parts of a page edge as PostgreSQL writes it ('123:9f0c...')."""
        types = self.types if types is None else types
        texts = text.split(":", len(types) - 1)
        if len(texts) != len(types):
            raise ValueError(f"a position has {len(types)} parts: {text!r}")
        return tuple(self._parse(kind, value) for kind, value in zip(types, texts, strict=True))

    @staticmethod
    def _parse(kind: type, text: str):
        if kind is bool:
            return text in ("t", "true")
        return kind(text)

    @staticmethod
    def _pack(kind: type, part) -> bytes:
        if kind is uuid.UUID:
            return part.bytes
        if kind is bool:
            return b"\x01" if part else b"\x00"
        if kind is int:
            return struct.pack(">q", part)
        return part.encode()

    def _unpack(self, raw: bytes) -> tuple:
        parts, at = [], 0
        for kind in self.types:
            if kind is str:
                text = raw[at:].decode()
                if "\x00" in text:  # none of ours: PostgreSQL text cannot hold it
                    raise ValueError("a NUL in a cursor's text")
                parts.append(text)
                at = len(raw)
                continue
            size = _FIXED_SIZES[kind]
            chunk = raw[at : at + size]
            if len(chunk) != size:
                raise ValueError("a cursor too short")
            at += size
            if kind is uuid.UUID:
                parts.append(uuid.UUID(bytes=chunk))
            elif kind is bool:
                if chunk not in (b"\x00", b"\x01"):
                    raise ValueError("not a boolean")
                parts.append(chunk == b"\x01")
            else:
                parts.append(struct.unpack(">q", chunk)[0])
        if at != len(raw):
            raise ValueError("a cursor too long")
        return tuple(parts)
