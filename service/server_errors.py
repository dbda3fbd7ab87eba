"""gunicorn's own error answers as problem+json, like every other answer of Vigie.

gunicorn answers requests it cannot parse (a request line or a header too long, a malformed
line, a bad chunked body) itself, before the app sees them, with an HTML page that may quote
what the client sent. gunicorn.conf.py puts `write_problem` in place of that page.
"""

import os

import orjson
from gunicorn import util

PROBLEM_JSON = "application/problem+json"


def readable_everywhere() -> str:
    """The CORS header of an open API (`CORS_ORIGINS` *, the default), so that a map page on
    another site reads why its request was refused (a CQL2 filter too long for the request
    line); with a list of origins, none: the request's Origin is not read."""
    return (
        "Access-Control-Allow-Origin: *\r\n"
        if os.environ.get("CORS_ORIGINS", "*").strip() == "*"
        else ""
    )


def write_problem(sock, status: int, reason: str, _message: str) -> None:
    """Answer STATUS as RFC 9457 problem details; what the client sent is not repeated."""
    body = orjson.dumps(
        {
            "type": "about:blank",
            "title": reason,
            "status": status,
            "detail": f"The server could not read this request: {reason.lower()}.",
        }
    )
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: {PROBLEM_JSON}\r\n"
        f"{readable_everywhere()}Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin1")
    util.write_nonblock(sock, head + body)


def answer_server_errors_as_problems() -> None:
    """Make gunicorn's workers write problem+json where they would write an HTML page."""
    util.write_error = write_problem
