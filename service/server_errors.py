"""gunicorn's own error answers as problem+json, like every other answer of Vigie.

gunicorn answers requests it cannot parse (a request line or a header too long, a malformed
line, a bad chunked body) itself, before the app sees them, with an HTML page that may quote
what the client sent. gunicorn.conf.py puts `write_problem` in place of that page.
"""

from functools import partial

import orjson
from gunicorn import util

from .config import listed
from .extensions import PROBLEM_JSON


def write_problem(sock, status: int, reason: str, _message: str, *, open_to_all: bool) -> None:
    """Answer STATUS as RFC 9457 problem details; what the client sent is not repeated.

    OPEN_TO_ALL (`CORS_ORIGINS` *, the default): the answer carries the open API's CORS header,
    so that a map page on another site reads why its request was refused (a CQL2 filter too
    long for the request line); with a list of origins, none: the request's Origin is not read.
    """
    body = orjson.dumps(
        {
            "type": "about:blank",
            "title": reason,
            "status": status,
            "detail": f"The server could not read this request: {reason.lower()}.",
        }
    )
    cors = "Access-Control-Allow-Origin: *\r\n" if open_to_all else ""
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: {PROBLEM_JSON}\r\n"
        f"{cors}Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin1")
    util.write_nonblock(sock, head + body)


def answer_server_errors_as_problems(cors_origins: str) -> None:
    """Make gunicorn's workers write problem+json where they would write an HTML page, readable
    from every site when CORS_ORIGINS (the setting) is `*`."""
    open_to_all = listed(cors_origins) == ["*"]
    util.write_error = partial(write_problem, open_to_all=open_to_all)
