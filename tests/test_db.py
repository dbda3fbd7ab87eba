"""The database connections the API opens: settings every statement relies on."""

from psycopg.pq import TransactionStatus
from sqlalchemy import func, select, text

from service.db import CompiledRead, make_engine, session


def test_statements_are_planned_for_their_values(app):
    """psycopg would prepare a statement after five runs, and PostgreSQL would then plan it
    once for every value: one plan for every box took 250 ms for a city whose own plan takes 1.
    """
    with app.extensions["engine"].connect() as connection:
        assert connection.connection.dbapi_connection.prepare_threshold == 2**31 - 1
        settings = connection.exec_driver_sql(
            "SELECT current_setting('TimeZone'), current_setting('jit')"
        ).one()
    assert tuple(settings) == ("UTC", "off")


def test_a_compiled_read_keeps_its_prepared_statement_and_leaves_the_connection_as_found(
    app, committed
):
    """The hottest reads run alone (autocommit: no BEGIN and COMMIT round trips); the pool's
    reset must then find nothing to roll back, or psycopg would forget the prepared statement.
    """
    engine = make_engine(app.config["DATABASE_URL"], pool_size=1)
    session.configure(bind=engine)
    read = CompiledRead(select(func.count().label("n")).select_from(text("pg_class")))
    try:
        with app.test_request_context():
            assert read.one_or_none().n > 0
            assert read.one_or_none().n > 0
        connection = engine.raw_connection()  # the one connection the reads used
        try:
            assert connection.dbapi_connection.autocommit is False
            assert connection.dbapi_connection.info.transaction_status == TransactionStatus.IDLE
            with connection.dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_prepared_statements")
                assert cursor.fetchone()[0] == 1
        finally:
            connection.close()
    finally:
        session.configure(bind=app.extensions["engine"])
        engine.dispose()
