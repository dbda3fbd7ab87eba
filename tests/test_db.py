"""The database connections the API opens: settings every statement relies on."""

from psycopg.pq import TransactionStatus
from sqlalchemy import event, func, select, text

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


def test_a_public_listing_page_runs_nothing_through_the_session(client, db):
    """Its page and its credits (OpenStreetMap's, asked by every listing) are prepared reads on
    a connection of their own: no session to open, plan for, commit and close per page."""
    db(
        "INSERT INTO devices (id, geom, kind, osm_id, osm_version) VALUES "
        "(gen_random_uuid(), ST_SetSRID(ST_MakePoint(2.305, 48.805), 4326), 'camera', 42, 3)"
    )
    executed = []

    def record(state):
        executed.append(str(state.statement))

    event.listen(session, "do_orm_execute", record)
    try:
        response = client.get("/api/v1/devices?bbox=2.3,48.8,2.31,48.81&limit=10")
    finally:
        event.remove(session, "do_orm_execute", record)
    assert response.status_code == 200
    assert "OpenStreetMap" in str(response.get_json()["links"])  # the credit was asked
    assert executed == []
