"""Engine and request-scoped session: one transaction per request, closed at teardown."""

import functools
import logging
from contextlib import contextmanager

import psycopg
from flask import current_app, g, has_app_context, request
from psycopg.errors import QueryCanceled, ReadOnlySqlTransaction, TransactionRollback
from psycopg.rows import namedtuple_row
from sqlalchemy import Executable, create_engine
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolExhausted
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from .geo.sql import statement_timeout
from .geo.statements import MAX_STATEMENTS, BoundStatement
from .replicas import HEADER as WAL_POSITION_HEADER
from .replicas import (
    PRIMARY_INSERTED,
    Replica,
    ReplicaSet,
    replica_name,
    requested_position,
)

# Timestamps leave the database in UTC, whatever the server's own time zone; a page of 10,000
# features is sorted in memory rather than spilled to disk. JIT compiling costs more than it
# saves on short API queries (17 ms on a 35 ms vector tile).
SESSION_OPTIONS = "-c timezone=UTC -c work_mem=32MB -c jit=off"
# psycopg would prepare a statement after its fifth run, and PostgreSQL would then soon plan it
# once for every value: one plan for every bounding box took 250 ms for a city whose own plan
# takes 1. Statements are planned for their values; only CompiledRead prepares its own (with
# prepare_threshold=None, psycopg would refuse even that: a threshold never reached instead).
NEVER_PREPARED_AUTOMATICALLY = 2**31 - 1
CONNECT_ARGS = {"options": SESSION_OPTIONS, "prepare_threshold": NEVER_PREPARED_AUTOMATICALLY}
# A replica that does not answer within this long is skipped rather than waited for.
REPLICA_CONNECT_TIMEOUT_S = 2
# A primary that does not answer within this long is unavailable (a 503; public reads go to the
# replicas): a frozen host or a partition must not hold requests, nor the replicas' check.
PRIMARY_CONNECT_TIMEOUT_S = 5
log = logging.getLogger(__name__)


class RoutedSession(Session):
    """The request's session: on the replica chosen for the request, else on its own bind (the
    primary, or the connection a test holds)."""

    def get_bind(self, *args, **kwargs):
        replica = current_replica()
        return replica.engine if replica else super().get_bind(*args, **kwargs)


session = scoped_session(sessionmaker(class_=RoutedSession, expire_on_commit=False))


class ReadOnPrimary(Exception):
    """Raised while reading a replica that lacks what the request needs: the request is run
    again on the primary (an account's token issued after the position the client sent)."""


def current_replica() -> Replica | None:
    """The replica the current request reads, or None (the primary)."""
    return g.get("replica") if has_app_context() else None


def read_without_primary() -> bool:
    """Whether a replica answers the current request while the primary is down: purges sent
    meanwhile may have missed what it shows (service/caching.py keeps it short in caches)."""
    replica = current_replica()
    return replica is not None and not current_app.extensions["replicas"].primary_answers


def primary_bind() -> Engine | Connection:
    """What the session is bound to when it is not on a replica (without opening a session)."""
    return session.session_factory.kw["bind"]


def view_handler(view, method: str):
    """The function that answers METHOD: VIEW itself, or the method of its MethodView."""
    return getattr(getattr(view, "view_class", None), method.lower(), view)


def needs_token() -> bool:
    """Whether the view this request is routed to refuses it without a valid token."""
    handler = view_handler(current_app.view_functions[request.endpoint], request.method)
    return getattr(handler, "token_required", False)


def answered_before_headers() -> bool:
    """Whether this request gets its answer before its other headers are read: no route matched
    (404, 405), or its view needs a token and none came (401)."""
    if request.url_rule is None:
        return True
    return "Authorization" not in request.headers and needs_token()


def make_engine(url: str, pool_size: int = 5, lock_timeout_ms: int = 0, **connect_args) -> Engine:
    # Connections are recycled rather than pinged before each use: a ping is one more round
    # trip per request (a read that finds one dead runs again: retrying_lost_connections).
    options = CONNECT_ARGS["options"] + f" -c lock_timeout={int(lock_timeout_ms)}"
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=300,
        # Error logs must not carry what contributors sent (notes, ids of accounts).
        hide_parameters=True,
        connect_args=CONNECT_ARGS | {"options": options} | connect_args,
    )


def make_replica_set(app, primary: Engine) -> ReplicaSet | None:
    urls = app.config["DATABASE_REPLICA_URLS"].replace(",", " ").split()
    if not urls:
        return None
    replicas = [
        Replica(
            make_engine(
                url,
                app.config["DB_POOL_SIZE"],
                app.config["DB_LOCK_TIMEOUT_MS"],
                connect_timeout=REPLICA_CONNECT_TIMEOUT_S,
            ),
            replica_name(make_url(url)),
        )
        for url in urls
    ]
    return ReplicaSet(
        primary,
        replicas,
        max_lag_seconds=app.config["REPLICA_MAX_LAG_SECONDS"],
        check_seconds=app.config["REPLICA_CHECK_SECONDS"],
    )


# What a replica's failure raises: a connection lost or refused, an exhausted pool, a query
# cancelled by the replay (a conflict with recovery), or a write the standby refuses.
REPLICA_FAILURES = (DBAPIError, PoolExhausted, psycopg.Error, ReadOnPrimary)


def replica_failed(error: Exception) -> tuple[bool, bool]:
    """Whether ERROR is the replica's doing (run the request on the primary), and whether the
    replica itself is unwell (skip it until the next check)."""
    if isinstance(error, ReadOnPrimary):
        return True, False
    cause = getattr(error, "orig", None) or error
    if isinstance(cause, QueryCanceled):
        return False, False  # a statement timeout: the request's own cost, not the replica's
    if isinstance(cause, TransactionRollback | ReadOnlySqlTransaction):
        return True, False  # a conflict with recovery, or a write on a GET: the primary does it
    unwell = isinstance(cause, psycopg.OperationalError | psycopg.InterfaceError | PoolExhausted)
    return unwell, unwell


def replica_instead_of_the_primary(error: Exception):
    """The replica a public read that the primary just failed (ERROR: the primary unreachable)
    may run on: one found by a check made now, if that check finds the primary down too."""
    if "replica_after" not in g or not replica_failed(error)[1]:
        return None
    replicas = current_app.extensions["replicas"]
    replicas.check_now()
    return None if replicas.primary_answers else replicas.choose(g.replica_after)


def falling_back_to_primary(read):
    """READ(); when the request's replica fails it, the request moves to the primary and READ
    runs again there (a view, or the account lookup of the rate limiter's hook). A public read
    that the primary fails when it stops moves to a replica the same way, without waiting for
    the next check."""
    try:
        return read()
    except REPLICA_FAILURES as error:
        replica = current_replica()
        if replica is None:
            replica = replica_instead_of_the_primary(error)
            if replica is None:
                raise
            log.warning("the primary failed a public read, run on %s: %s", replica.name, error)
            abandon_session()
            g.replica = replica
            g.pop("user", None)
            return read()
        retry, unwell = replica_failed(error)
        if not retry:
            raise
        log.warning("replica %s failed a read, run on the primary: %s", replica.name, error)
        if unwell:
            current_app.extensions["replicas"].skip(replica)
        abandon_session()
        g.replica = None
        g.pop("user", None)  # read again on the primary: the replica's rows are gone
        return read()


def lost_connection(error: Exception) -> bool:
    """Whether ERROR is a pooled connection found dead (the server restarted, its backend was
    terminated, an idle connection reaped): the same read on a new connection succeeds."""
    if isinstance(error, DBAPIError):
        return bool(error.connection_invalidated)
    return bool(getattr(error, "connection_lost", False))


def retrying_lost_connections(read):
    """READ(), run once more when it found a pooled connection dead and nothing was written
    (GET, HEAD). Connections are not pinged before use, and every one of a pool may have died
    together: the pool is renewed, rather than each dead connection costing a client a 503."""
    try:
        return read()
    except (DBAPIError, psycopg.OperationalError) as error:
        if request.method not in ("GET", "HEAD") or not lost_connection(error):
            raise
        log.warning("a read found its database connection lost; run again on a new one")
        abandon_session()
        g.pop("user", None)
        replica = current_replica()
        (replica.engine if replica else current_app.extensions["engine"]).dispose(close=False)
        return read()


def init_app(app) -> None:
    engine = make_engine(
        app.config["DATABASE_URL"],
        app.config["DB_POOL_SIZE"],
        app.config["DB_LOCK_TIMEOUT_MS"],
        connect_timeout=PRIMARY_CONNECT_TIMEOUT_S,
    )
    app.extensions["engine"] = engine
    session.configure(bind=engine)
    replicas = make_replica_set(app, engine)
    app.extensions["replicas"] = replicas

    @app.before_request
    def choose_database():
        """Reads go to a replica unless they must see the caller's own writes.

        A read that names a WAL position (the caller's last write) goes to a replica that has
        replayed it; an authenticated read that names none goes to the primary; any other
        read goes to a replica within the lag bound. Writes go to the primary.
        """
        if answered_before_headers():
            return
        after = requested_position(request.headers)
        if replicas is None or request.method not in ("GET", "HEAD"):
            return
        if after is None and "Authorization" in request.headers:
            return
        g.replica_after = after  # a public read: a replica may serve it
        g.replica = replicas.choose(after)

    dispatch = app.dispatch_request
    view = (lambda: falling_back_to_primary(dispatch)) if replicas is not None else dispatch
    app.dispatch_request = lambda: retrying_lost_connections(view)

    @app.after_request
    def commit_reads(response):
        """A successful read ends with COMMIT, not the ROLLBACK of closing the session.

        psycopg forgets its prepared statements at every ROLLBACK: committing the (read-only)
        transaction keeps those of CompiledRead on the connection for the next request.
        Writes and failed requests are left alone: they commit or roll back themselves.
        """
        if (
            request.method in ("GET", "HEAD")
            and response.status_code < 400
            and session.registry.has()
        ):
            try:
                session.commit()
            except REPLICA_FAILURES:
                if current_replica() is None:
                    raise
                abandon_session()  # the answer is read already: a replica gone after it
        return response

    @app.after_request
    def write_position(response):
        """A write's answer carries the WAL position past its commit, for the client to send
        back with its next reads (Vigie-WAL-Position): they then see the write."""
        if (
            request.method in ("GET", "HEAD", "OPTIONS")
            or response.status_code >= 400
            or not session.registry.has()
        ):
            return response
        try:
            position = session.execute(PRIMARY_INSERTED).scalar_one()
            session.commit()  # nothing left open for the teardown to roll back
        except (SQLAlchemyError, psycopg.Error) as error:  # a session left failed included
            # The write is done; without a position the client's reads go to the primary.
            log.warning("the WAL position of a write could not be read: %s", error)
            abandon_session()
        else:
            response.headers[WAL_POSITION_HEADER] = position
        return response

    @app.teardown_appcontext
    def remove_session(_exc=None):
        if session.registry.has():
            abandon_session()  # a connection lost by now is invalidated, not a 500


class CompiledRead:
    """A read-only statement compiled once to the driver's SQL, for the hottest reads.

    It is prepared on each connection, and PostgreSQL soon plans it once for every value: only
    for statements whose best plan does not depend on their values (a lookup by primary key,
    a page read range after range of an index whatever the ranges).

    Running it skips SQLAlchemy's per-execution work (cache key, compiled-cache lookup, result
    wrapping) and the ORM session: about a third of the cost of reading one device by id.
    Rows come back as named tuples, with the driver's types (no SQLAlchemy type processing:
    for plain columns and text). The connection is a second one when the request's session
    holds one already (an authenticated caller): sync workers use two at most.
    """

    def __init__(self, statement: Executable):
        compiled = statement.compile(dialect=psycopg_dialect.dialect())
        self.sql = str(compiled)
        self.defaults = dict(compiled.params)

    def one_or_none(self, **parameters):
        """The first row, or None.

        Read on a pooled connection of its own, outside the request's session, in autocommit
        mode: the statement is its own transaction, without a BEGIN and a COMMIT round trip,
        and the pool's reset finds no transaction to roll back (a ROLLBACK would make psycopg
        forget its prepared statements). When the session is bound to a connection rather
        than an engine (a transaction that its owner commits or rolls back, as the test suite
        does), the read joins that connection so that it sees what was written there.
        """
        replica = current_replica()
        bind = replica.engine if replica else primary_bind()  # without opening a session
        if isinstance(bind, Connection):
            return self._fetch(bind.connection.dbapi_connection, parameters)
        connection = bind.raw_connection()
        try:
            connection.dbapi_connection.autocommit = True
            try:
                return self._fetch(connection.dbapi_connection, parameters)
            finally:
                connection.dbapi_connection.autocommit = False
        except psycopg.OperationalError as error:
            dbapi = connection.dbapi_connection
            error.connection_lost = dbapi.broken or dbapi.closed  # (retrying_lost_connections)
            connection.invalidate()  # a server that restarted: the pool makes a new one
            raise
        finally:
            connection.close()

    def _fetch(self, connection, parameters: dict):
        with connection.cursor(row_factory=namedtuple_row) as cursor:
            return cursor.execute(self.sql, self.defaults | parameters, prepare=True).fetchone()


def abandon_session() -> None:
    """Close the request's session whatever state its connection is in."""
    try:
        session.rollback()
    except (SQLAlchemyError, psycopg.Error):
        session().invalidate()  # the connection is gone: the pool replaces it
    session.remove()


@contextmanager
def primary_writes():
    """A session for a write made by a read (a cache entry): the request's own on the
    primary, a session of the primary's while the request reads a replica. Commit it."""
    if current_replica() is None:
        yield session
        return
    writer = Session(bind=primary_bind())
    try:
        yield writer
    finally:
        writer.close()


@functools.lru_cache(maxsize=MAX_STATEMENTS)
def compiled_read(statement: Executable) -> CompiledRead:
    """The CompiledRead of a statement kept in the registry (service/geo/statements.py)."""
    return CompiledRead(statement)


@contextmanager
def time_limit(milliseconds: int, refusal: Exception):
    """Statements of the block stop after MILLISECONDS, and a stopped one raises REFUSAL (a
    4xx that says what to ask instead): a costly request never holds a worker for long."""
    session.execute(statement_timeout(milliseconds))
    try:
        yield
    except OperationalError as exc:
        if not isinstance(exc.orig, QueryCanceled):
            raise
        session.rollback()
        raise refusal from exc


def run_statement(bound: BoundStatement, **values):
    """The one row a page's statement returns, run as the statement allows.

    A statement that may be prepared is compiled once and run as a CompiledRead; any other
    runs on the request's session, planned for its values. Routes call this and never choose.
    """
    values = bound.values | values
    if bound.prepared:
        return compiled_read(bound.statement).one_or_none(**values)
    return session.connection().execute(bound.statement, values).one()
