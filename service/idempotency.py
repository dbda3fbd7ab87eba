"""Idempotency-Key: a write sent again with the same key gets the first answer, not a second effect.

The key is scoped to the caller (account, or anonymous client key). The first request stores
a fingerprint of itself; a retry with the same fingerprint gets the stored status, body and
headers back (with `Idempotent-Replayed: true`); the same key with a different request is a 422;
a retry while the first is still running is a 409. Server errors are not stored, so they can be
retried. Records older than IDEMPOTENCY_TTL_HOURS are purged by `flask idempotency purge`.
"""

import hashlib
from datetime import timedelta

from flask import Response, g, request
from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError

from .db import session
from .errors import Conflict, ValidationFailed
from .models import IdempotentRequest
from .ratelimit import client_key

HEADER = "Idempotency-Key"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
REPLAYED_HEADERS = ("Location", "ETag", "Content-Type", "Retry-After")


def fingerprint() -> str:
    digest = hashlib.sha256(f"{request.method} {request.full_path}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def before_write():
    key = request.headers.get(HEADER)
    if request.method not in WRITE_METHODS or key is None:
        return None
    if not 1 <= len(key) <= 255:
        raise ValidationFailed("An Idempotency-Key has 1 to 255 characters.", field=HEADER)
    scope = client_key().split(":", 1)[1]
    mark = fingerprint()
    record = session.get(IdempotentRequest, (scope, key))
    if record is None:
        try:
            session.add(IdempotentRequest(scope=scope, key=key, fingerprint=mark))
            session.commit()
            g.idempotency = (scope, key)
            return None
        except IntegrityError:
            session.rollback()
            record = session.get(IdempotentRequest, (scope, key))
    if record.fingerprint != mark:
        raise ValidationFailed("This Idempotency-Key was used for another request.", field=HEADER)
    if record.status is None:
        raise Conflict(
            "The first request with this Idempotency-Key is still running; retry.",
            field=HEADER,
            headers={"Retry-After": "1"},
        )
    response = Response(record.body, status=record.status, headers=record.headers)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def after_write(response: Response) -> Response:
    scope_key = g.pop("idempotency", None)
    if scope_key is None:
        return response
    session.rollback()  # whatever the view left unfinished is not ours to commit
    record = session.get(IdempotentRequest, scope_key)
    if record is not None:
        if response.status_code >= 500:
            session.delete(record)
        else:
            record.status = response.status_code
            record.body = response.get_data()
            record.headers = {
                h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers
            }
        session.commit()
    return response


def purge(hours: int) -> int:
    result = session.execute(
        delete(IdempotentRequest).where(
            IdempotentRequest.created_at < func.now() - timedelta(hours=hours)
        )
    )
    session.commit()
    return result.rowcount


def init_app(app) -> None:
    app.before_request(before_write)
    app.after_request(after_write)
