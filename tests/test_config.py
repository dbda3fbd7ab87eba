"""Settings read from the environment: every spelling either read as meant or refused by name."""

import subprocess
import sys

import pytest

from service.config import PROJECT_DIR, Config


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


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        # A 500 to every request carrying X-Forwarded-For (ProxyFix's index out of range).
        ("TRUSTED_PROXIES", "-1", "TRUSTED_PROXIES must be 0 or more, not -1"),
        # Tokens already expired as they are given.
        ("TOKEN_LIFETIME_DAYS", "-5", "TOKEN_LIFETIME_DAYS must be 1 or more, not -5"),
        ("DB_POOL_SIZE", "0", "DB_POOL_SIZE must be 1 or more, not 0"),
        ("CONFIRMATION_INTERVAL_DAYS", "-3", "CONFIRMATION_INTERVAL_DAYS must be 0 or more"),
        ("VIEW_DEFAULT_FOV", "720", "VIEW_DEFAULT_FOV must be from 1 to 360, not 720"),
        ("MERGE_DISTANCE_M", "-1", "MERGE_DISTANCE_M must be 0 or more, not -1"),
    ],
)
def test_a_number_out_of_its_range_stops_the_start_naming_it(monkeypatch, name, value, said):
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit, match=said):
        Config()


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY must be 1 or more, not 0"),
        ("GUNICORN_THREADS", "0", "GUNICORN_THREADS must be 1 or more, not 0"),
    ],
)
def test_gunicorns_numbers_out_of_range_stop_it_naming_them(monkeypatch, name, value, said):
    """No worker, the master waited with requests hanging; no thread, each worker died with a
    traceback."""
    monkeypatch.setenv(name, value)
    read = subprocess.run(
        [sys.executable, "-c", "import runpy; runpy.run_path('gunicorn.conf.py')"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert read.returncode == 1 and read.stderr.strip().endswith(said), read.stderr


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
