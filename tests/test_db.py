"""The database sessions the API opens: settings every statement relies on."""


def test_sessions_plan_each_statement_for_its_values(app):
    """Reads keep their prepared statements; a generic plan for every box would be slow.

    One plan for all bounding boxes took 250 ms for a city where the city's own plan takes 1.
    """
    with app.extensions["engine"].connect() as connection:
        settings = connection.exec_driver_sql(
            "SELECT current_setting('plan_cache_mode'), current_setting('TimeZone'),"
            " current_setting('jit')"
        ).one()
    assert tuple(settings) == ("force_custom_plan", "UTC", "off")
