"""gunicorn's error log without anything a client is or sent (gunicorn.conf.py's logger_class).

gunicorn writes the client's address into a warning for every malformed or over-long request
(`Invalid request from ip=...`), followed by the offending request line or header, and its
workers log request URIs and raw received bytes with some errors. A contributor's address must
appear in no log: lines logged by gunicorn's request-handling code keep their template only.
"""

import logging
import re
import sys
from pathlib import Path

import gunicorn
from gunicorn import glogging

# gunicorn's code that reads requests: its log lines carry client input in their arguments.
REQUEST_CODE = tuple(str(Path(gunicorn.__file__).parent / part) for part in ("workers", "http"))
# Frames between that code and a filter: the logging package, gunicorn's Logger, this module.
LOGGING_CODE = {logging.__file__, glogging.__file__, __file__}


# C0 and C1 controls, line separators and bidi controls (which reorder what a line shows). In
# a path as WSGI gives it (latin-1 of the bytes), the last ones are bytes of the C1 range too.
CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


# A bearer token (auth.issue_token: the prefix, then 43 URL-safe characters) pasted into a
# path by mistake, or on purpose to see whether logs keep it; or its secret alone, the prefix
# left out (any word of 43 such characters: a cursor of that length is masked too).
TOKEN = re.compile(r"vigie_[A-Za-z0-9_-]{20,}|(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")


def one_line(text: str | None) -> str:
    """TEXT of a client as a log may hold it: its control characters written as \\uNNNN, so
    that a newline in a path (%0A) cannot start a line of its own, forged to look like another
    request; and any bearer token in it masked."""
    text = TOKEN.sub("vigie_[token]", text or "")
    return CONTROLS.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def logging_caller() -> str:
    """The file of the code that made the logging call now being filtered.

    Every record of gunicorn's error log names gunicorn's Logger as its origin
    (`record.pathname`): the real caller is further up the stack, past the logging frames.
    """
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename in LOGGING_CODE:
        frame = frame.f_back
    return frame.f_code.co_filename if frame is not None else ""


def without_client_details(record: logging.LogRecord) -> bool:
    """Rewrite RECORD, when gunicorn's request handling logged it, to its bare template.

    A refused request is named by the class of its error (`InvalidRequestLine`,
    `LimitRequestHeaders`...), which says what went wrong without repeating what was sent.
    """
    if not logging_caller().startswith(REQUEST_CODE):
        return True
    message = str(record.msg)
    if message.startswith("Invalid request from ip="):
        error = sys.exc_info()[1]  # logged from gunicorn's except clause
        message = f"Invalid request refused ({type(error).__name__})"
    # The words before the first placeholder: "Error handling request %s %s" keeps no URI.
    record.msg = message.split("%", 1)[0].rstrip(" :.")
    record.args = ()
    return True


class ClientPrivateLogger(glogging.Logger):
    """gunicorn's logger, its error log filtered by `without_client_details`.

    Access lines are shaped by gunicorn.conf.py's access_log_format, which leaves out the
    address and the user agent; the path in them stays on its line (one_line).
    """

    def setup(self, cfg):
        super().setup(cfg)
        self.error_log.addFilter(without_client_details)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = one_line(atoms["U"])  # the decoded path: %0A is a newline there
        return atoms
