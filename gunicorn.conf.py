"""gunicorn settings of `make run`: loopback only, threads that slow clients cannot exhaust
at once, and logs without client addresses, user agents or tokens.

In production, put a buffering reverse proxy (nginx) in front: it receives whole requests
before passing them on, so a slow client never holds a thread (docs/security.md).
"""

import multiprocessing

from service.config import Config, env_int

# Each worker keeps freed memory for its next responses (KEEP_FREED_MEMORY_MB).
from service.memory import memory_settings, post_fork  # noqa: F401  (post_fork: a gunicorn hook)
from service.server_errors import answer_server_errors_as_problems
from service.server_logs import one_line

# Settings are read once here, in the master, so that a wrong one stops the start with its
# name: a worker that stopped on it would be started again and again, answering nothing. The
# local secret key is made here too when there is none, before the workers read it.
vigie_config = Config()
memory_settings()

# Requests gunicorn refuses itself (too long, malformed) get problem+json, not an HTML page.
answer_server_errors_as_problems(vigie_config.CORS_ORIGINS)

bind = f"127.0.0.1:{env_int('PORT', 5000, minimum=1, maximum=65535)}"
# Vigie is run by its process manager, not gunicornc: no control socket, which two nodes on
# one machine would otherwise share (each removing it when it stops).
control_socket_disable = True
# gunicorn reads WEB_CONCURRENCY too, before this file, and refuses a value that is no number.
workers = env_int("WEB_CONCURRENCY", multiprocessing.cpu_count(), minimum=1)
# A sync worker is held whole by a client that sends its body slowly, until `timeout` kills it:
# two such clients stalled a two-worker server for 30 s. A thread of a gthread worker is all a
# slow client holds; the worker goes on serving with its other threads.
worker_class = "gthread"
threads = env_int("GUNICORN_THREADS", 8, minimum=1)
# A worker that stops answering its master for this long is restarted.
timeout = 30
# gunicorn's ceiling for the request line (default 4094): OGC API filters ride in the URL, and
# nginx's default buffers take 8 KB lines too (docs/ogc.md says what fits).
limit_request_line = 8190
# The scheme comes from the proxies Vigie is told to trust (TRUSTED_PROXIES), not from
# gunicorn's own reading of X-Forwarded-Proto from loopback.
secure_scheme_headers = {}
accesslog = "-"
# Method, path, status, bytes, duration: never the address (%(h)s) nor the user agent (%(a)s).
access_log_format = "%(m)s %(U)s %(s)s %(B)sB %(M)sms"
# The error log drops what gunicorn would say of a client: its address, request line, headers.
logger_class = "service.server_logs.ClientPrivateLogger"


def pre_request(worker, req):
    """gunicorn's own hook logs each request's path at debug level as it came, a token pasted
    into it included: the same line, the path as the access log writes it."""
    worker.log.debug("%s %s", req.method, one_line(req.path))
