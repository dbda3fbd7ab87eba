"""The GeoJSON delivery module: the envelope and the one cursor codec."""

import uuid

import orjson
import pytest

from service.api.geojson import CursorCodec, feature_collection
from service.errors import InvalidInput

CODEC = CursorCodec(bool, int, uuid.UUID, advice="restart.")


def test_the_envelope_leaves_out_missing_members_and_ends_with_its_links():
    body = feature_collection(
        '{"type":"Feature"}', numberReturned=1, numberMatched=None, links=[{"rel": "self"}]
    )
    assert orjson.loads(body) == {
        "type": "FeatureCollection",
        "features": [{"type": "Feature"}],
        "numberReturned": 1,
        "links": [{"rel": "self"}],
    }
    assert orjson.loads(feature_collection("", truncated=False))["truncated"] is False


def test_positions_round_trip_with_their_types():
    position = (True, -(2**63), uuid.uuid4())
    assert CODEC.decode(CODEC.encode(*position)) == position
    text = CursorCodec(str, advice="restart.")
    assert text.decode(text.encode("75056:é")) == ("75056:é",)
    edge = CODEC.parse_edge(f"12:{position[2]}", (int, uuid.UUID))
    assert edge == (12, position[2])


@pytest.mark.parametrize(
    "cursor", ["", "!!", "AAAA", CODEC.encode(False, 1, uuid.UUID(int=1)) + "AA"]
)
def test_a_cursor_this_server_did_not_issue_is_a_400_naming_the_field(cursor):
    with pytest.raises(InvalidInput) as refused:
        CursorCodec(bool, int, uuid.UUID, field="since", advice="sync again.").decode(cursor)
    assert refused.value.field == "since"


def test_text_may_only_end_a_position():
    with pytest.raises(ValueError):
        CursorCodec(str, int, advice="restart.")
