"""OSM surveillance tags <-> device fields, per the vocabulary, both ways."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service import vocabulary as vocab
from service.osm.tags import device_columns, osm_tags

SURVEILLANCE = {"man_made": "surveillance"}


@pytest.mark.parametrize(
    ("tags", "kind"),
    [
        ({}, "camera"),
        ({"surveillance:type": "camera"}, "camera"),
        ({"surveillance:type": "ALPR"}, "alpr"),
        ({"surveillance:type": "alpr"}, "alpr"),
        (
            {"surveillance:type": "camera", "camera:features": "face_recognition"},
            "facial_recognition",
        ),
        ({"surveillance:type": "microphone"}, "microphone"),
        ({"surveillance:type": "gunshot_detector"}, "gunshot_detector"),
        ({"surveillance:type": "sensor"}, "sensor"),
    ],
)
def test_every_kind_is_read_from_its_osm_tags(tags, kind):
    columns = device_columns(SURVEILLANCE | tags)
    assert columns["kind"] == kind
    assert "surveillance:type" not in columns["tags"] and "man_made" not in columns["tags"]


@pytest.mark.parametrize(
    "tags",
    [{"man_made": "tower"}, {}, SURVEILLANCE | {"surveillance:type": "guard"}],
)
def test_what_is_not_a_mapped_device_is_left_out(tags):
    assert device_columns(tags) is None


def test_every_mapped_key_lands_in_its_field():
    columns = device_columns(
        SURVEILLANCE
        | {
            "camera:type": "dome",
            "camera:mount": "street_lamp",
            "camera:direction": "NE;360",
            "camera:angle": "15°",
            "height": "4.5 m",
            "surveillance:zone": "traffic",
            "surveillance": "public",
            "operator": "Kantonspolizei",
            "operator:type": "government",
            "contact:webcam": "https://example.org/cam",
        }
    )
    assert columns == {
        "kind": "camera",
        "camera_type": "dome",
        "mount": "street_lamp",
        "direction": [45, 0],
        "angle": 15.0,
        "height": 4.5,
        "zone": "traffic",
        "surveillance": "public",
        "operator": "Kantonspolizei",
        "operator_type": "public",
        "source": None,
        "observed_at": None,
        "tags": {"contact:webcam": "https://example.org/cam"},
    }


def test_unreadable_values_are_kept_as_tags_rather_than_lost():
    tags = {
        "camera:mount": "roof",
        "camera:direction": "left",
        "height": "tall",
        "camera:angle": "0",
        "surveillance:zone": "bank",
        "operator": " \u200b ",  # blank, though not only spaces
    }
    columns = device_columns(SURVEILLANCE | tags)
    assert columns["tags"] == tags
    unread = ("mount", "direction", "height", "angle", "zone", "operator")
    assert all(columns[c] is None for c in unread)


def test_a_camera_type_is_read_for_the_kinds_that_film_only():
    """The API refuses a microphone's camera_type: the node's camera:type stays a tag."""
    microphone = device_columns(
        SURVEILLANCE | {"surveillance:type": "microphone", "camera:type": "dome"}
    )
    assert microphone["camera_type"] is None
    assert microphone["tags"] == {"camera:type": "dome"}
    alpr = device_columns(SURVEILLANCE | {"surveillance:type": "ALPR", "camera:type": "dome"})
    assert alpr["camera_type"] == "dome" and alpr["tags"] == {}


def test_writing_gives_back_the_osm_tags():
    device = {
        "kind": "alpr",
        "direction": [90, 270],
        "height": 6.0,
        "angle": None,
        "camera_type": "fixed",
        "operator_type": "unknown",
        "tags": {"name": "Porte de Vanves", "man_made": "mast"},
    }
    assert osm_tags(device) == {
        "man_made": "surveillance",
        "surveillance:type": "ALPR",
        "camera:direction": "90;270",
        "height": "6",
        "camera:type": "fixed",
        "name": "Porte de Vanves",
    }


osm_value = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)


@given(
    kind=st.sampled_from(vocab.KINDS),
    extra=st.dictionaries(st.sampled_from([*sorted(vocab.OSM_KEYS.values()), "note"]), osm_value),
)
def test_reading_then_writing_keeps_every_tag(kind, extra):
    """No tag an OSM mapper wrote is lost on a round trip (values may be normalised)."""
    tags = extra | kind.osm_tags
    columns = device_columns(tags)
    assert columns is not None and columns["kind"] == kind.name
    written = osm_tags(columns)
    assert set(written) == set(tags)
    assert device_columns(written) == columns


@pytest.mark.parametrize(
    ("text", "directions"),
    [
        ("-90", [270]),
        ("south", [180]),
        ("South-West", [225]),
        ("northeast", [45]),
        ("180, 270", [180, 270]),
        ("90°;W", [90, 270]),
        ("-360", [0]),
        ("90;90", [90]),  # one lens, written twice
        ("0;360;north", [0]),
    ],
)
def test_directions_as_mappers_write_them(text, directions):
    columns = device_columns(SURVEILLANCE | {"camera:direction": text})
    assert columns["direction"] == directions and "camera:direction" not in columns["tags"]


@pytest.mark.parametrize("text", ["left", "400", "-361", "90;;180", "1e3"])
def test_unreadable_directions_stay_in_tags(text):
    columns = device_columns(SURVEILLANCE | {"camera:direction": text})
    assert columns["direction"] is None and columns["tags"] == {"camera:direction": text}


def test_source_and_survey_date_round_trip():
    tags = SURVEILLANCE | {
        "source": "https://opendata.example/cameras",
        "survey:date": "2025-06-30",
    }
    columns = device_columns(tags)
    assert columns["source"] == "https://opendata.example/cameras"
    assert columns["observed_at"].isoformat() == "2025-06-30T00:00:00+00:00"
    assert osm_tags(columns) == tags | {"surveillance:type": "camera"}


@pytest.mark.parametrize(
    "text", ["2999-01-01", "2025-02-30", "30/06/2025", "2025-06", "0024-05-01", "1899-12-31"]
)
def test_future_ancient_or_malformed_survey_dates_stay_in_tags(text):
    columns = device_columns(SURVEILLANCE | {"survey:date": text})
    assert columns["observed_at"] is None and columns["tags"] == {"survey:date": text}


def test_a_source_that_is_no_web_address_stays_a_tag():
    columns = device_columns(SURVEILLANCE | {"source": "survey"})
    assert columns["source"] is None and columns["tags"] == {"source": "survey"}
