"""The database connections the API opens: settings every statement relies on."""


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
