"""The headers many operations share, documented once in the OpenAPI document.

An apispec plugin adds them to every operation they apply to, by the rules of the code that
reads and writes them (service/replicas.py, service/idempotency.py), rather than route by route.
"""

from apispec import BasePlugin

from . import idempotency, replicas

WAL_POSITION_EXAMPLE = "16/B374D848"
WAL_POSITION_PARAMETER = {
    "description": "The WAL position of the caller's last write, as its answer gave it: the read "
    "then reflects that write, even on a read replica (docs/replicas.md). A malformed position "
    "is a 400 problem naming this header.",
    "required": False,
    "schema": {"type": "string", "pattern": r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$"},
    "example": WAL_POSITION_EXAMPLE,
}
WAL_POSITION_HEADER = {
    "description": "The primary's WAL position past this write's commit: send it back in "
    f"{replicas.HEADER} with the next reads to see the write. Absent only when it could not "
    "be read; those reads then go to the primary.",
    "schema": {"type": "string", "pattern": r"^[0-9A-F]{1,8}/[0-9A-F]{1,8}$"},
    "example": WAL_POSITION_EXAMPLE,
}
IDEMPOTENCY_KEY_PARAMETER = {
    "description": "Makes the write safe to send again: a retry with the same key and the same "
    "request gets the first answer back (any status below 500, with "
    f"{idempotency.REPLAYED_HEADER}: true) instead of a second effect. The same key with "
    "another request is a 422; a retry while the first request is still running is a 409 with "
    "Retry-After. A key belongs to its caller (account, or anonymous client). It holds no "
    "comma: a header sent twice reaches the service as its values joined by commas.",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^,]+$"},
}
IDEMPOTENT_REPLAYED_HEADER = {
    "description": f"This answer is the stored first answer to the request's {idempotency.HEADER}.",
    "schema": {"type": "string", "enum": ["true"]},
}


def request_header(name: str, description: str) -> dict:
    return {"in": "header", "name": name, "schema": {"type": "string"}, "description": description}


# A file read by ranges (delivery.py, file_in_ranges).
RANGE_PARAMETERS = [
    request_header(
        "Range",
        "One byte range (bytes=0-1023, bytes=-1024); several, or of another unit, are "
        "ignored: the whole file",
    ),
    request_header(
        "If-Range",
        "The ETag of the file a range is asked of (a download resumed): another, weak, or a "
        "date, and the whole file comes",
    ),
    request_header("If-None-Match", "The file's ETag: a 304 while it stands, Range or not"),
    request_header("If-Match", "The file's ETag: another is a 412"),
]


class SharedHeadersPlugin(BasePlugin):
    """Documents Vigie-WAL-Position on reads and writes, Idempotency-Key on writes, and Range
    with its preconditions on files read by ranges (a view class `read_by_ranges`)."""

    def __init__(self, app):
        self.app = app  # its views say which writes ignore Idempotency-Key

    def init_spec(self, spec):
        spec.components.parameter(replicas.HEADER, "header", WAL_POSITION_PARAMETER)
        spec.components.header(replicas.HEADER, WAL_POSITION_HEADER)
        spec.components.parameter(idempotency.HEADER, "header", IDEMPOTENCY_KEY_PARAMETER)
        spec.components.header(idempotency.REPLAYED_HEADER, IDEMPOTENT_REPLAYED_HEADER)

    def operation_helper(self, path=None, operations=None, rule=None, **kwargs):
        view = self.app.view_functions[rule.endpoint]
        for method, operation in operations.items():
            operation["responses"] = {str(code): r for code, r in operation["responses"].items()}
            if method.upper() in idempotency.WRITE_METHODS:
                document_write(operation, keyed=not idempotency.is_exempt(view, method))
            elif method in ("get", "head"):
                document_read(operation)
                if getattr(getattr(view, "view_class", None), "read_by_ranges", False):
                    operation["parameters"].extend(RANGE_PARAMETERS)
            document_shared_refusals(operation)


def document_read(operation: dict) -> None:
    operation.setdefault("parameters", []).append(replicas.HEADER)
    operation["responses"].setdefault("400", "BAD_REQUEST")


def document_write(operation: dict, keyed: bool) -> None:
    """Every success carries the WAL position; a KEYED write takes Idempotency-Key."""
    responses = operation["responses"]
    answer_headers = [replicas.HEADER] + ([idempotency.REPLAYED_HEADER] if keyed else [])
    for code, response in responses.items():
        if code.startswith("2"):
            headers = response.setdefault("headers", {})
            headers.update({name: name for name in answer_headers})
    if keyed:
        operation.setdefault("parameters", []).append(idempotency.HEADER)
        responses.setdefault("400", "BAD_REQUEST")  # a key of the wrong shape
        responses.setdefault("409", "CONFLICT")
        responses.setdefault("422", "UNPROCESSABLE_ENTITY")


def document_shared_refusals(operation: dict) -> None:
    """What any operation may answer: 414 and 431 past the limits of the request line and of a
    header (gunicorn's, before the app sees them), 429 past a rate limit (RATE_LIMIT_DEFAULT,
    or RATE_LIMIT_DOWNLOADS, counts every route), and for one that takes a body, 400 when it is
    no JSON the service can read and 413 past its size limit."""
    responses = operation["responses"]
    responses.setdefault("414", "REQUEST_URI_TOO_LONG")
    responses.setdefault("431", "REQUEST_HEADER_FIELDS_TOO_LARGE")
    responses.setdefault("429", "TOO_MANY_REQUESTS")
    if "requestBody" in operation:
        responses.setdefault("400", "BAD_REQUEST")
        responses.setdefault("413", "REQUEST_ENTITY_TOO_LARGE")
