"""Idempotency-Key: a write sent again with the same key gets the first answer, not a second effect.

The key is scoped to the caller (account, or anonymous client key). The first request records a
fingerprint of itself; a retry with the same fingerprint gets the stored status, body and
headers back (with `Idempotent-Replayed: true`); the same key with a different request is a 422.
Records older than IDEMPOTENCY_TTL_HOURS are purged by `flask idempotency purge`.

A refusal that changed nothing (its view rolled back, the claim with it) is not stored: sent
again, the request runs again, and may pass (a rate limit's window over, an If-Match given).

What a failure leaves behind:
- The record is inserted in the request's own transaction, so it is committed with the write it
  guards: a write that fails, or whose database goes away, leaves no record, and a retry runs it
  again. Server errors are never stored either.
- The answer is stored just after the write commits, in a transaction of its own. If that fails
  (the database went away in between), the record stays without an answer: a retry is told to
  wait (409, Retry-After) while the first request may still be running, and once it cannot be
  (IDEMPOTENCY_IN_FLIGHT_SECONDS, longer than any request may run) the retry runs it again.
  Writes are safe to run again: a pin carries its client UUID, so one already saved is answered
  200 as the saved device, and edits carry If-Match.

Fingerprints are keyed (HMAC with SECRET_KEY): a stolen database gives no way to test the
passwords that bodies hold. Answers that hand out a secret (a bearer token) or tell what must
not be kept (a new pseudonym under its client's address, a deleted account) are never stored:
their routes are `exempt`, and a retried login issues another token. A body of passwords (a
password change) is left out of its fingerprint (`body_unread`). An answer with members
that must not be kept (the position and time read from a photo) is stored without them
(`stored_without`): a retry gets the rest.
"""

import hashlib
import hmac
import json
import logging
from datetime import timedelta

from flask import Response, current_app, g, request
from sqlalchemy import delete, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError

from .db import answered_before_headers, needs_token, session, view_handler
from .errors import Conflict, InvalidInput, ValidationFailed
from .models import IdempotentRequest
from .ratelimit import client_key

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
REPLAYED_HEADERS = ("Location", "ETag", "Content-Type", "Retry-After")
log = logging.getLogger(__name__)


def exempt(view):
    """Mark a view whose answer holds a secret: Idempotency-Key is ignored, nothing is stored."""
    view.idempotency_exempt = True
    return view


def stored_without(*members: str):
    """Mark a view whose JSON answer is kept for retries without these top-level MEMBERS."""

    def mark(view):
        view.idempotency_left_out = members
        return view

    return mark


def left_out(view, method: str) -> tuple[str, ...]:
    return getattr(view_handler(view, method), "idempotency_left_out", ())


def kept_body(response: Response) -> bytes:
    """The answer's body as it may be kept: without the members its view leaves out."""
    members = left_out(current_app.view_functions[request.endpoint], request.method)
    body = response.get_data()
    if not members or not response.is_json:
        return body
    document = json.loads(body)
    return json.dumps({k: v for k, v in document.items() if k not in members}).encode()


def body_unread(view):
    """Mark a view whose body holds secrets (passwords): its fingerprint leaves the body out,
    so that nothing kept could test a guess of them, even with SECRET_KEY. Its key, random for
    each request a client makes, tells its requests apart."""
    view.idempotency_body_unread = True
    return view


def is_exempt(view, method: str) -> bool:
    """Whether METHOD of VIEW (a function, or a MethodView's view) is marked `exempt`."""
    return getattr(view_handler(view, method), "idempotency_exempt", False)


def fingerprint() -> str:
    """A keyed hash of the request: method, path and query, and body (a form's parts), but for
    a view whose body is left unread (body_unread)."""
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), digestmod=hashlib.sha256)
    digest.update(f"{request.method} {request.full_path}\n".encode())
    handler = view_handler(current_app.view_functions[request.endpoint], request.method)
    if getattr(handler, "idempotency_body_unread", False):
        return digest.hexdigest()
    if request.mimetype == "multipart/form-data":
        prepare = getattr(handler, "before_body_is_read", None)
        if prepare is not None:
            prepare()  # a photo's size limit, which the view would set itself
        add_form_parts(digest)
    else:
        digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def add_form_parts(digest) -> None:
    """A multipart body by its fields and files: a client sending it again draws a new
    boundary between its parts (browsers do), so its bytes differ where the request does not."""
    for name, value in sorted(request.form.items(multi=True)):
        digest.update(f"field {name}={value}\n".encode())
    for name, upload in sorted(request.files.items(multi=True), key=lambda item: item[0]):
        digest.update(f"file {name} {upload.mimetype}\n".encode())
        while chunk := upload.stream.read(1 << 20):
            digest.update(chunk)
        upload.stream.seek(0)  # the view reads it next


def before_write():
    key = request.headers.get(HEADER)
    if request.method not in WRITE_METHODS or key is None or answered_before_headers():
        return None
    if is_exempt(current_app.view_functions[request.endpoint], request.method):
        return None
    if not 1 <= len(key) <= 255:
        raise InvalidInput("An Idempotency-Key has 1 to 255 characters.", field=HEADER)
    if "," in key:  # how a server passes on a header sent twice: a retry would send one
        raise InvalidInput(
            "Send one Idempotency-Key, without a comma (it was sent twice, or holds one).",
            field=HEADER,
        )
    caller, scope = client_key().split(":", 1)
    if caller == "anon" and needs_token():
        return None  # a bad token: the view answers 401 before any key is looked at
    mark = fingerprint()
    # Waits while another request holding the same key has not committed or rolled back.
    claimed = session.execute(
        insert(IdempotentRequest)
        .values(scope=scope, key=key, fingerprint=mark)
        .on_conflict_do_nothing()
        .returning(IdempotentRequest.key)
    ).first()
    if claimed is None:
        record = session.get(IdempotentRequest, (scope, key), populate_existing=True)
        if record.fingerprint != mark:
            raise ValidationFailed(
                "This Idempotency-Key was used for another request.", field=HEADER
            )
        if record.status is not None:
            response = Response(record.body, status=record.status, headers=record.headers)
            response.headers[REPLAYED_HEADER] = "true"
            return response
        if not take_over_abandoned(scope, key):
            raise Conflict(
                "The first request with this Idempotency-Key is still running; retry.",
                field=HEADER,
                headers={"Retry-After": "1"},
            )
    g.idempotency = (scope, key, mark)
    return None


def take_over_abandoned(scope: str, key: str) -> bool:
    """Claim a record left without an answer by a request that can no longer be running."""
    in_flight = timedelta(seconds=current_app.config["IDEMPOTENCY_IN_FLIGHT_SECONDS"])
    return (
        session.execute(
            update(IdempotentRequest)
            .where(
                IdempotentRequest.scope == scope,
                IdempotentRequest.key == key,
                IdempotentRequest.status.is_(None),
                IdempotentRequest.created_at < func.now() - in_flight,
            )
            .values(created_at=func.now())
            .returning(IdempotentRequest.key)
        ).first()
        is not None
    )


def after_write(response: Response) -> Response:
    claim = g.pop("idempotency", None)
    if claim is None:
        return response
    scope, key, mark = claim
    try:
        session.rollback()  # whatever the view left unfinished is not ours to commit
        this_claim = (
            IdempotentRequest.scope == scope,
            IdempotentRequest.key == key,
            IdempotentRequest.status.is_(None),
        )
        if response.status_code >= 500:
            session.execute(delete(IdempotentRequest).where(*this_claim))
        else:
            answer = {
                "status": response.status_code,
                "body": kept_body(response),
                "headers": {
                    h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers
                },
            }
            if response.status_code >= 400:
                # A refusal is kept only if its view committed (the claim is there): one that
                # changed nothing runs again when sent again, and may then pass (a rate
                # limit's window over, an If-Match now given, an account trusted since).
                session.execute(update(IdempotentRequest).where(*this_claim).values(**answer))
            else:
                # A view that answered without writing (a pin already saved) left no claim.
                session.execute(
                    insert(IdempotentRequest)
                    .values(scope=scope, key=key, fingerprint=mark, **answer)
                    .on_conflict_do_update(
                        index_elements=[IdempotentRequest.scope, IdempotentRequest.key],
                        set_=answer,
                        where=IdempotentRequest.status.is_(None),
                    )
                )
        session.commit()
    except DBAPIError:
        # The database went away after the write: the client still gets its answer, and a
        # retry after IDEMPOTENCY_IN_FLIGHT_SECONDS runs the request again.
        session.rollback()
        log.warning("the answer to an Idempotency-Key could not be stored", exc_info=True)
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
