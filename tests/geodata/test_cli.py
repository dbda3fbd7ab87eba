"""`flask geodata ...` as an operator runs it: each command commits, so each test cleans up."""

import pytest
from sqlalchemy import text

from geodata import catalogue
from tests.districts import district_feature, square, write_geojson

DATASETS = ("cli-test", "paris-arrondissements")
STATS_OF_ARRONDISSEMENTS = "/api/v1/stats/districts?level=arrondissement"


@pytest.fixture
def runner(app):
    yield app.test_cli_runner()
    with app.extensions["engine"].begin() as connection:
        for name in DATASETS:
            connection.execute(text("DELETE FROM districts WHERE dataset = :n"), {"n": name})
            connection.execute(text("DELETE FROM datasets WHERE name = :n"), {"n": name})
        connection.execute(text("DELETE FROM population_sources"))


def stored(app, sql):
    with app.extensions["engine"].connect() as connection:
        return connection.execute(text(sql)).all()


def test_import_reports_progress_added_updated_and_repaired(app, runner, tmp_path):
    bowtie = [[[2.3, 48.8], [2.31, 48.81], [2.31, 48.8], [2.3, 48.81], [2.3, 48.8]]]
    path = write_geojson(
        tmp_path / "q.geojson",
        [
            district_feature("CLI1", square(2.3, 48.8, 0.01), pop=42),
            district_feature("CLI2", bowtie),
            district_feature("CLI3", [[[179.5, -19], [-179.5, -19], [-179.5, -18], [179.5, -19]]]),
        ],
    )
    args = [
        "geodata",
        "import",
        path,
        "--level",
        "quartier",
        "--code-field",
        "code",
        "--name-field",
        "name",
        "--population-field",
        "pop",
        "--population-year",
        "2023",
        "--parent",
        "75056",
        "--dataset",
        "cli-test",
        "--attribution",
        "Test credit",
    ]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "staging features" in result.output
    assert "3 districts added, 0 updated in place." in result.output
    assert "repaired invalid geometry of CLI2" in result.output
    assert "cut CLI3 at the antimeridian" in result.output
    # Imported again without its credit (new borders, say): the dataset keeps the credit.
    again = runner.invoke(args=[*args[:-2], "--licence", "ODbL 1.0"])
    assert "0 districts added, 3 updated in place." in again.output
    # Imported under another dataset: the districts it takes over are named.
    other = runner.invoke(args=[*args[:-4], "--dataset", "cli-other"])
    assert "0 districts added, 3 updated in place." in other.output
    assert "CLI1 was of the dataset cli-test: it is this one's now" in other.output
    runner.invoke(args=args)  # back to the first dataset
    credit = stored(app, "SELECT attribution, licence FROM datasets WHERE name = 'cli-test'")
    assert [tuple(r) for r in credit] == [("Test credit", "ODbL 1.0")]
    rows = stored(
        app,
        "SELECT code, parent_code, population FROM districts "
        "WHERE dataset = 'cli-test' ORDER BY code",
    )
    assert [tuple(r) for r in rows] == [
        ("CLI1", "75056", 42),
        ("CLI2", "75056", None),
        ("CLI3", "75056", None),
    ]


@pytest.fixture
def undone_imports(app):
    """The next N district imports fail as a deadlock with a device writer would undo them: a
    trigger raising PostgreSQL's deadlock_detected while a (non-transactional) sequence is below
    N."""
    engine = app.extensions["engine"]

    def undo(times: int) -> None:
        with engine.begin() as connection:
            connection.execute(
                text(f"""
                CREATE SEQUENCE test_undone_imports;
                CREATE FUNCTION test_undo_import() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF nextval('test_undone_imports') <= {times} THEN
                        RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected';
                    END IF;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER test_undo_import AFTER INSERT ON districts
                FOR EACH STATEMENT EXECUTE FUNCTION test_undo_import();
            """)
            )

    yield undo
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER IF EXISTS test_undo_import ON districts"))
        connection.execute(text("DROP FUNCTION IF EXISTS test_undo_import()"))
        connection.execute(text("DROP SEQUENCE IF EXISTS test_undone_imports"))


@pytest.mark.parametrize("undone, imported", [(2, True), (3, False)])
def test_an_import_undone_by_concurrent_writers_runs_again(
    app, runner, undone_imports, tmp_path, undone, imported
):
    path = write_geojson(
        tmp_path / "q.geojson", [district_feature("CLI1", square(2.3, 48.8, 0.01))]
    )
    undone_imports(undone)
    result = runner.invoke(
        args=["geodata", "import", path, "--level", "quartier", "--code-field", "code",
              "--name-field", "name", "--dataset", "cli-test"]
    )  # fmt: skip
    assert result.output.count("was undone; running it again") == min(undone, 2)
    stored_codes = [row.code for row in stored(app, "SELECT code FROM districts")]
    if imported:
        assert result.exit_code == 0 and "1 districts added" in result.output
        assert stored_codes == ["CLI1"]
    else:
        assert result.exit_code == 1 and "undone each time; nothing was stored" in result.output
        assert stored_codes == []


def test_import_with_a_wrong_field_fails_clearly_and_stores_nothing(app, runner, tmp_path):
    path = write_geojson(
        tmp_path / "q.geojson", [district_feature("CLI1", square(2.3, 48.8, 0.01))]
    )
    result = runner.invoke(
        args=[
            "geodata",
            "import",
            path,
            "--level",
            "quartier",
            "--code-field",
            "insee",
            "--name-field",
            "name",
            "--dataset",
            "cli-test",
        ]
    )
    assert result.exit_code != 0
    assert "--code-field: the file has no field 'insee'" in result.output
    assert stored(app, "SELECT code FROM districts WHERE dataset = 'cli-test'") == []


def test_population_command_joins_a_csv(app, runner, tmp_path):
    """A parent holding a count of its own keeps it, and the command names it with both
    figures, so that no official figure changes unsaid."""
    path = write_geojson(
        tmp_path / "q.geojson",
        [
            district_feature("CLI1", square(2.3, 48.8, 0.01), parent="CLIP"),
            district_feature("CLIP", square(2.3, 48.8, 0.02), pop=5000),
        ],
    )
    runner.invoke(
        args=[
            "geodata",
            "import",
            path,
            "--level",
            "quartier",
            "--code-field",
            "code",
            "--name-field",
            "name",
            "--parent-field",
            "parent",
            "--population-field",
            "pop",
            "--dataset",
            "cli-test",
        ]
    )
    csv_path = tmp_path / "p.csv"
    csv_path.write_text("code_insee,population_municipale\nCLI1,1234\n")
    result = runner.invoke(
        args=[
            "geodata",
            "population",
            str(csv_path),
            "--code-field",
            "code_insee",
            "--population-field",
            "population_municipale",
            "--year",
            "2023",
            "--source",
            "INSEE",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "1 districts got a population" in result.output
    assert "1 parents kept a count of their own" in result.output
    assert "CLIP (5000, not 1234)." in result.output
    assert stored(app, "SELECT population FROM districts WHERE code = 'CLIP'")[0][0] == 5000
    assert stored(app, "SELECT population_year FROM districts WHERE code = 'CLI1'")[0][0] == 2023


def population_credit(client, url="/api/v1/stats/districts?level=quartier") -> dict:
    [credit] = [c for c in client.get(url).get_json()["attribution"] if c["name"] == "population"]
    return credit


def test_a_population_source_is_credited_with_its_licence_and_address(app, runner, tmp_path):
    """As a district dataset is: in the statistics' bodies, headers and links, and in the
    districts collection's links. A later file of the same source keeps what was said."""
    path = write_geojson(
        tmp_path / "q.geojson", [district_feature("CLI1", square(2.3, 48.8, 0.01), parent="CLIP")]
    )
    district_args = ["--level", "quartier", "--code-field", "code", "--name-field", "name"]
    imported = runner.invoke(
        args=["geodata", "import", path, *district_args, "--dataset", "cli-test"]
    )
    assert imported.exit_code == 0, imported.output
    csv_path = tmp_path / "p.csv"
    csv_path.write_text("code,population\nCLI1,1234\n")
    population_args = ["--code-field", "code", "--population-field", "population"]
    joined = runner.invoke(
        args=[
            "geodata", "population", str(csv_path), *population_args, "--source", "Census",
            "--licence", "CC-BY-4.0", "--source-url", "https://census.example/2023",
        ]
    )  # fmt: skip
    assert joined.exit_code == 0, joined.output
    client = app.test_client()
    assert population_credit(client) == {
        "name": "population",
        "attribution": "Census",
        "licence": "CC-BY-4.0",
        "source_url": "https://census.example/2023",
    }
    csv = client.get("/api/v1/stats/districts?level=quartier&f=csv")
    assert "CC-BY-4.0" in csv.headers["X-Licence"].split("; ")
    by_cc = '<https://creativecommons.org/licenses/by/4.0/>; rel="license"'
    assert by_cc in csv.headers.getlist("Link")
    collection = client.get("/ogc/collections/districts").get_json()
    assert {
        "rel": "license",
        "type": "text/html",
        "title": "Census (CC-BY-4.0)",
        "href": "https://creativecommons.org/licenses/by/4.0/",
    } in collection["links"]
    # The same source again, saying nothing of its licence: what was said stays.
    again = runner.invoke(
        args=["geodata", "population", str(csv_path), *population_args, "--source", "Census"]
    )
    assert again.exit_code == 0, again.output
    assert population_credit(client)["licence"] == "CC-BY-4.0"
    # A source's credit changed alone is a change of the statistics (none is kept stale).
    with app.extensions["engine"].begin() as connection:
        connection.execute(text("UPDATE population_sources SET licence = 'CC0-1.0'"))
    assert population_credit(client)["licence"] == "CC0-1.0"


@pytest.mark.parametrize(
    ("command", "credits", "source_flag"),
    [
        ("population", ["--licence", "CC-BY-4.0"], "--source"),
        ("import", ["--population-url", "https://census.example"], "--population-source"),
    ],
)
def test_a_population_licence_without_its_source_is_refused(
    app, runner, tmp_path, command, credits, source_flag
):
    """Stored for no source, it would be credited nowhere: the command says what is missing
    and changes nothing."""
    path = write_geojson(
        tmp_path / "q.geojson", [district_feature("CLI1", square(2.3, 48.8, 0.01))]
    )
    csv_path = tmp_path / "p.csv"
    csv_path.write_text("code,population\nCLI1,1234\n")
    arguments = {
        "population": [str(csv_path), "--code-field", "code", "--population-field", "population"],
        "import": [path, "--level", "quartier", "--code-field", "code", "--name-field", "name",
                   "--dataset", "cli-test"],
    }[command]  # fmt: skip
    result = runner.invoke(args=["geodata", command, *arguments, *credits])
    assert result.exit_code == 2
    assert f"credit a population source: give {source_flag} too." in result.output
    assert stored(app, "SELECT code FROM districts WHERE dataset = 'cli-test'") == []
    assert stored(app, "SELECT name FROM population_sources") == []


def test_fetch_of_an_unknown_dataset_lists_the_known_ones(runner):
    result = runner.invoke(args=["geodata", "fetch", "atlantis"])
    assert result.exit_code != 0
    assert "paris-arrondissements" in result.output and "'atlantis'" in result.output


def test_fetch_offline_without_a_local_copy_says_so(app, runner, tmp_path, monkeypatch):
    def offline(url):
        raise OSError("network unreachable")

    monkeypatch.setattr(catalogue, "download", offline)
    monkeypatch.setitem(app.config, "GEODATA_DIR", str(tmp_path))
    result = runner.invoke(args=["geodata", "fetch", "lyon-arrondissements"])
    assert result.exit_code != 0
    assert "cannot download lyon-arrondissements" in result.output
    assert "holds no copy of it" in result.output


def test_fetch_offline_imports_the_local_copy(app, runner, tmp_path, monkeypatch):
    """With the catalogue's fields, which `geodata import` would make one type again."""

    def offline(url):
        raise OSError("network unreachable")

    write_geojson(
        tmp_path / "paris-arrondissements.geojson",
        [
            district_feature(
                "75102", square(2.34, 48.868, 0.01), insee_code="75102", nom="Bourse",
                population=20_000,
            ),
        ],
    )  # fmt: skip
    monkeypatch.setattr(catalogue, "download", offline)
    monkeypatch.setitem(app.config, "GEODATA_DIR", str(tmp_path))
    result = runner.invoke(args=["geodata", "fetch", "paris-arrondissements"])
    assert result.exit_code == 0, result.output
    assert "network unreachable): importing the copy in" in result.output
    rows = stored(app, "SELECT name, parent_code, population FROM districts WHERE code = '75102'")
    assert [tuple(r) for r in rows] == [("Bourse", "75056", 20_000)]
    # Credited as the copy it is (the catalogue says where it came from).
    credit = "SELECT source_url FROM datasets WHERE name = 'paris-arrondissements'"
    assert stored(app, credit)[0][0] == catalogue.entry("paris-arrondissements")["local"]["url"]


def test_catalogue_lists_its_sources_with_licences(runner):
    result = runner.invoke(args=["geodata", "list"])
    for name in (
        "paris-arrondissements",
        "lyon-arrondissements",
        "marseille-arrondissements",
        "france-communes",
        "france-departements",
    ):
        assert name in result.output
    assert "ODbL" in result.output and "Licence Ouverte" in result.output


def test_load_default_uses_the_local_copy_once(app, runner, tmp_path, monkeypatch):
    write_geojson(
        tmp_path / "paris-arrondissements.geojson",
        [
            district_feature(
                "75101",
                square(2.33, 48.86, 0.01),
                insee_code="75101",
                nom="Louvre",
                population=15114,
            ),
        ],
    )
    monkeypatch.setitem(app.config, "GEODATA_DIR", str(tmp_path))
    first = runner.invoke(args=["geodata", "load-default"])
    assert first.exit_code == 0, first.output
    assert "loading default districts paris-arrondissements from" in first.output
    second = runner.invoke(args=["geodata", "load-default"])
    assert "already loaded" in second.output
    rows = stored(app, "SELECT name, parent_code, population FROM districts WHERE code = '75101'")
    assert [tuple(r) for r in rows] == [("Louvre", "75056", 15114)]
    # INSEE's populations, the copy's, credited with their licence and where they come from.
    assert population_credit(app.test_client(), STATS_OF_ARRONDISSEMENTS) == {
        "name": "population",
        "attribution": "INSEE, populations légales 2023",
        "licence": "Licence Ouverte / Etalab 2.0",
        "source_url": "https://www.insee.fr/fr/statistiques/8680726",
    }


def test_load_default_without_data_or_network_says_so_and_fails(app, runner, tmp_path, monkeypatch):
    def offline(url):
        raise OSError("network unreachable")

    monkeypatch.setattr(catalogue, "download", offline)
    monkeypatch.setitem(app.config, "GEODATA_DIR", str(tmp_path))
    result = runner.invoke(args=["geodata", "load-default"])
    assert result.exit_code == 1  # which `make run` goes past, saying so
    assert "NOT loaded" in result.output and "network unreachable" in result.output
    assert stored(app, "SELECT code FROM districts WHERE dataset = 'paris-arrondissements'") == []


def test_load_default_of_an_unknown_dataset_says_so_and_fails(app, runner, monkeypatch):
    monkeypatch.setitem(app.config, "DEFAULT_DISTRICTS", "atlantis")
    result = runner.invoke(args=["geodata", "load-default"])
    assert result.exit_code == 1
    assert "NOT loaded" in result.output and "'atlantis' is not in the catalogue" in result.output


def test_a_local_copy_is_credited_with_where_it_came_from(tmp_path):
    """Not with the address of the official file, often of another edition (IGN GEOFLA 2016
    for Marseille's copy, ADMIN EXPRESS 2024 for its official file)."""
    for name, fields in catalogue.load_catalogue().items():
        local = fields.get("local")
        if not local:
            continue
        (tmp_path / local["file"]).write_text("{}")
        copy = catalogue.local_source(name, str(tmp_path))
        assert copy.url == local["url"], name
    marseille = catalogue.local_source("marseille-arrondissements", str(tmp_path))
    assert marseille.url != catalogue.remote_source("marseille-arrondissements").url
