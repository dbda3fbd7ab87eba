"""gunicorn settings of `make run`: loopback only, and access logs without client addresses."""

import multiprocessing
import os

# Each worker keeps freed memory for its next responses (KEEP_FREED_MEMORY_MB).
from service.memory import post_fork  # noqa: F401  (a gunicorn hook, found by its name)

bind = f"127.0.0.1:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count())
accesslog = "-"
# Method, path, status, bytes, duration: never the address (%(h)s) nor the user agent (%(a)s).
access_log_format = "%(m)s %(U)s %(s)s %(B)sB %(M)sms"
