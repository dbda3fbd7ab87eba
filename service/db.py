"""Engine and request-scoped session: one transaction per request, closed at teardown."""

import functools
from contextlib import contextmanager

import psycopg
from flask import request
from psycopg.errors import QueryCanceled
from psycopg.rows import namedtuple_row
from sqlalchemy import Executable, create_engine
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import scoped_session, sessionmaker

from .geo.sql import statement_timeout
from .geo.statements import MAX_STATEMENTS, BoundStatement

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
session = scoped_session(sessionmaker(expire_on_commit=False))


def make_engine(url: str, pool_size: int = 5) -> Engine:
    # Connections are recycled rather than pinged before each use: a ping is one more round
    # trip per request.
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=300,
        # Error logs must not carry what contributors sent (notes, ids of accounts).
        hide_parameters=True,
        connect_args=CONNECT_ARGS,
    )


def init_app(app) -> None:
    engine = make_engine(app.config["DATABASE_URL"], app.config["DB_POOL_SIZE"])
    app.extensions["engine"] = engine
    session.configure(bind=engine)

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
            session.commit()
        return response

    @app.teardown_appcontext
    def remove_session(_exc=None):
        session.remove()


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
        bind = session.session_factory.kw["bind"]  # without opening a session
        if isinstance(bind, Connection):
            return self._fetch(bind.connection.dbapi_connection, parameters)
        connection = bind.raw_connection()
        try:
            connection.dbapi_connection.autocommit = True
            try:
                return self._fetch(connection.dbapi_connection, parameters)
            finally:
                connection.dbapi_connection.autocommit = False
        except psycopg.OperationalError:
            connection.invalidate()  # a server that restarted: the pool makes a new one
            raise
        finally:
            connection.close()

    def _fetch(self, connection, parameters: dict):
        with connection.cursor(row_factory=namedtuple_row) as cursor:
            return cursor.execute(self.sql, self.defaults | parameters, prepare=True).fetchone()


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
