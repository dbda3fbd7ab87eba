"""Settings read from the environment: every spelling either read as meant or refused by name."""

import pytest

from service.config import Config


@pytest.mark.parametrize(
    ("value", "enabled"),
    [("false", False), ("0", False), ("off", False), ("No", False), ("true", True), ("on", True)],
)
def test_switches_read_every_usual_word(monkeypatch, value, enabled):
    for name in ("RATELIMIT_ENABLED", "STATS_CACHE", "S3_PRESIGNED_URLS"):
        monkeypatch.setenv(name, value)
    config = Config()
    assert config.RATELIMIT_ENABLED is config.STATS_CACHE is config.S3_PRESIGNED_URLS is enabled


@pytest.mark.parametrize("name", ["RATELIMIT_ENABLED", "STATS_CACHE", "S3_PRESIGNED_URLS"])
def test_a_switch_misspelt_stops_the_start_naming_it(monkeypatch, name):
    """Read as false, `ture` would turn a cache or a limit off without a word."""
    monkeypatch.setenv(name, "ture")
    with pytest.raises(SystemExit, match=f"{name} is a switch"):
        Config()


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "1e999"])
def test_a_distance_that_is_no_number_stops_the_start_naming_it(monkeypatch, value):
    monkeypatch.setenv("MERGE_DISTANCE_M", value)
    with pytest.raises(SystemExit, match="MERGE_DISTANCE_M must be a number"):
        Config()


@pytest.mark.parametrize("value", ["garbage", "fixed=thirty", "=30", "dome=-5", "fixed=nan"])
def test_view_radii_are_checked_at_start(monkeypatch, value):
    monkeypatch.setenv("VIEW_RADII", value)
    with pytest.raises(SystemExit, match="VIEW_RADII lists camera types and metres"):
        Config()


def test_view_radii_and_distances_are_read(monkeypatch):
    monkeypatch.setenv("VIEW_RADII", " fixed=25, dome=12.5 ,")
    monkeypatch.setenv("DUPLICATE_DISTANCE_M", "7.5")
    config = Config()
    assert config.DUPLICATE_DISTANCE_M == 7.5
    assert config.VIEW_RADII == " fixed=25, dome=12.5 ,"


@pytest.mark.parametrize(
    "url",
    [
        "postgres://vigie@db.example:5432/vigie",
        "postgresql://vigie@db.example:5432/vigie",
        "postgresql+psycopg://vigie@db.example:5432/vigie",
    ],
)
def test_the_usual_spellings_of_a_database_url_take_vigies_driver(monkeypatch, url):
    monkeypatch.setenv("DATABASE_URL", url)
    assert Config().DATABASE_URL == "postgresql+psycopg://vigie@db.example:5432/vigie"
