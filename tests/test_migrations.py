"""Migrations are reversible: upgrade, downgrade to nothing, and upgrade again."""

import uuid

from sqlalchemy import create_engine, inspect, text

from service import migrate
from tests.conftest import create_database, drop_database


def table_names(url):
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"spatial_ref_sys"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade():
    name = f"vigie_migrations_{uuid.uuid4().hex[:8]}"
    url = create_database(name)
    try:
        migrate.upgrade(url)
        tables = table_names(url)
        assert "devices" in tables
        migrate.downgrade(url, "base")
        assert table_names(url) == {"alembic_version"}
        migrate.upgrade(url)
        assert table_names(url) == tables
    finally:
        drop_database(name)


def test_leaving_the_stale_marks_rewrites_every_csv_line():
    """Downgrading past 0021 (writers marked CSV lines stale) to 0020 (which keeps every line
    current) rewrites every line, even while a CSV request's refresh holds its lock."""
    name = f"vigie_migrations_{uuid.uuid4().hex[:8]}"
    url = create_database(name)
    engine = create_engine(url)
    try:
        migrate.upgrade(url)
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO datasets (name, attribution) VALUES ('test', 'Test')")
            )
            connection.execute(
                text(
                    "INSERT INTO districts (code, name, level, dataset, geom, area_km2) VALUES "
                    "('Z1', 'Z1', 'quartier', 'test', ST_Multi(ST_MakeEnvelope(2.3, 48.8, "
                    "2.31, 48.81, 4326)), 0.8)"
                )
            )
            connection.execute(text("SELECT refresh_district_csv_lines()"))
            connection.execute(
                text(
                    "INSERT INTO devices (id, geom, kind, review_status) VALUES "
                    "(gen_random_uuid(), ST_SetSRID(ST_MakePoint(2.305, 48.805), 4326), "
                    "'camera', 'approved')"
                )
            )
        refreshing = engine.connect()  # a CSV request's refresh, under way
        refreshing.execute(
            text("SELECT pg_advisory_xact_lock('district_csv_lines'::regclass::oid::bigint)")
        )
        try:
            migrate.downgrade(url, "0020")
        finally:
            refreshing.rollback()
            refreshing.close()
        with engine.connect() as connection:
            line = connection.execute(text("SELECT count FROM district_csv_lines")).scalar_one()
        assert line == 1
        migrate.upgrade(url)
    finally:
        engine.dispose()
        drop_database(name)


def test_kept_answers_holding_private_data_are_deleted():
    """0023 deletes the kept answers that held a photo's position and time, a pseudonym, or
    a deleted account's, and leaves the others."""
    name = f"vigie_migrations_{uuid.uuid4().hex[:8]}"
    url = create_database(name)
    engine = create_engine(url)
    try:
        migrate.upgrade(url, "0022")
        user = uuid.uuid4()
        answers = {
            "photo": (str(user), b'{"id": 1, "suggested_location": {"coordinates": [2.29, 48.8]}}'),
            "register": ("d8997a0df4480a777ae06376", b'{"username": "carol"}'),
            "deleted account": (str(uuid.uuid4()), b""),
            "pin": (str(user), b'{"type": "Feature"}'),
        }
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, username, password_hash, role) "
                    "VALUES (:id, 'alice', 'x', 'contributor')"
                ),
                {"id": user},
            )
            for key, (scope, body) in answers.items():
                connection.execute(
                    text(
                        "INSERT INTO idempotent_requests (scope, key, fingerprint, status, body) "
                        "VALUES (:scope, :key, 'f', 201, :body)"
                    ),
                    {"scope": scope, "key": key, "body": body},
                )
        migrate.upgrade(url)
        with engine.connect() as connection:
            kept = connection.execute(text("SELECT key FROM idempotent_requests")).scalars().all()
        assert kept == ["pin"]
    finally:
        engine.dispose()
        drop_database(name)


def test_stored_features_are_written_again_with_days():
    """0024 rewrites every stored Feature with its times as days, without making the devices
    look changed to syncing clients, and keeps last_confirmed_at as a day; going back writes
    the instants again."""
    name = f"vigie_migrations_{uuid.uuid4().hex[:8]}"
    url = create_database(name)
    engine = create_engine(url)

    def stored() -> tuple[str, int, str]:
        with engine.connect() as connection:
            return connection.execute(
                text(
                    "SELECT feature_head, change_txid, (updated_at AT TIME ZONE 'UTC')::text"
                    " FROM devices"
                )
            ).one()

    try:
        migrate.upgrade(url, "0023")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO devices (id, geom, kind, observed_at, last_confirmed_at) VALUES "
                    "(gen_random_uuid(), ST_SetSRID(ST_MakePoint(2.35, 48.85), 4326), 'camera',"
                    " '2026-06-01T10:31:07Z', '2026-06-02T08:00:00Z')"
                )
            )
        before, txid, updated = stored()
        assert '"observed_at":"2026-06-01T10:31:07+00:00"' in before
        migrate.upgrade(url)
        after, txid_after, updated_after = stored()
        assert '"observed_at":"2026-06-01T00:00:00+00:00"' in after
        assert '"created_at":"' + updated[:10] + 'T00:00:00+00:00"' in after
        assert (txid_after, updated_after) == (txid, updated)
        with engine.connect() as connection:
            confirmed = connection.execute(
                text("SELECT (last_confirmed_at AT TIME ZONE 'UTC')::text FROM devices")
            ).scalar_one()
        assert confirmed == "2026-06-02 00:00:00"  # the column holds the day from now on
        migrate.downgrade(url, "0023")  # the instants again, but last_confirmed_at's day
        assert '"observed_at":"2026-06-01T10:31:07+00:00"' in stored()[0]
    finally:
        engine.dispose()
        drop_database(name)


def test_populations_that_were_sums_of_their_children_are_marked_so():
    """0038 marks summed the populations of a child's year and source, as a population file
    gave them (Paris, though one arrondissement was given another year since); a count of its
    own from another publisher stays one."""
    name = f"vigie_migrations_{uuid.uuid4().hex[:8]}"
    url = create_database(name)
    engine = create_engine(url)
    try:
        migrate.upgrade(url, "0037")
        rows = [
            ("75101", "75056", 15114, 2023, "INSEE"),
            ("75102", "75056", 21000, 2024, "INSEE"),  # given another year since
            ("75056", None, 36004, 2023, "INSEE"),  # their sum, as the join gave it
            ("69381", "69123", 30000, 2021, "IRIS"),
            ("69123", None, 522000, 2023, "INSEE"),  # a count of its own
        ]
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO datasets (name, attribution) VALUES ('t', 'T')"))
            for code, parent, population, year, source in rows:
                connection.execute(
                    text(
                        "INSERT INTO districts (code, name, level, parent_code, population, "
                        "population_year, population_source, dataset, geom, area_km2) VALUES "
                        "(:code, :name, :level, :parent, :population, :year, :source, 't', "
                        "ST_Multi(ST_MakeEnvelope(2.3, 48.8, 2.31, 48.81, 4326)), 1)"
                    ),
                    {"code": code, "name": code, "parent": parent, "population": population,
                     "level": "commune" if parent is None else "arrondissement", "year": year,
                     "source": source},
                )  # fmt: skip
        migrate.upgrade(url)
        with engine.connect() as connection:
            summed = connection.execute(
                text("SELECT code FROM districts WHERE population_summed ORDER BY code")
            ).scalars()
            assert list(summed) == ["75056"]
    finally:
        engine.dispose()
        drop_database(name)


def test_insee_populations_stored_get_their_licence_and_address():
    """0041 credits the catalogue's INSEE populations a database holds already; another
    source, of which it knows nothing, gets no row."""
    name = f"vigie_migrations_{uuid.uuid4().hex[:8]}"
    url = create_database(name)
    engine = create_engine(url)
    try:
        migrate.upgrade(url, "0040")
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO datasets (name, attribution) VALUES ('t', 'T')"))
            for code, source in (("75101", "INSEE, populations légales 2023"), ("X1", "IRIS")):
                connection.execute(
                    text(
                        "INSERT INTO districts (code, name, level, population, "
                        "population_source, dataset, geom, area_km2) VALUES (:code, :name, "
                        "'commune', 100, :source, 't', "
                        "ST_Multi(ST_MakeEnvelope(2.3, 48.8, 2.31, 48.81, 4326)), 1)"
                    ),
                    {"code": code, "name": code, "source": source},
                )
        migrate.upgrade(url)
        with engine.connect() as connection:
            sources = connection.execute(text("SELECT * FROM population_sources")).all()
        assert [tuple(row) for row in sources] == [
            (
                "INSEE, populations légales 2023",
                "Licence Ouverte / Etalab 2.0",
                "https://www.insee.fr/fr/statistiques/8680726",
            )
        ]
    finally:
        engine.dispose()
        drop_database(name)
