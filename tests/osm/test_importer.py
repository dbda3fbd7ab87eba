"""`flask osm import FILE` with the real Swiss OSM extract, OSM XML, re-imports and bad files."""

import json
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from service.osm.files import new_node_id
from tests.helpers import pin

OVERPASS_FILE = "osm-surveillance-switzerland.overpass-elements.json"
# Its 2,144 nodes: 6 are webcams or guards, not devices Vigie maps.
NODES, MAPPED = 2144, 2138


@pytest.fixture
def swiss_extract(app) -> Path:
    path = Path(app.config["GEODATA_DIR"]) / OVERPASS_FILE
    if not path.exists():
        pytest.skip(
            f"{OVERPASS_FILE} is not in GEODATA_DIR ({path.parent}) and has no official "
            "download (it is an ODbL Overpass extract, see SOURCES.md): import test not run"
        )
    return path


def run_import(app, path):
    result = app.test_cli_runner().invoke(args=["osm", "import", str(path)])
    lines = dict(line.rsplit(": ", 1) for line in result.output.splitlines() if ": " in line)
    return result, {key: int(value) for key, value in lines.items() if value.isdigit()}


def stored(db, sql, **params):
    return db(sql, **params).all()


def test_real_overpass_extract_is_imported_then_reimported_without_duplicates(
    app, db, swiss_extract
):
    result, counts = run_import(app, swiss_extract)
    assert result.exit_code == 0, result.output
    assert counts["created"] == MAPPED and counts["updated"] == 0
    assert counts["skipped: not a surveillance device Vigie maps"] == NODES - MAPPED
    assert db("SELECT count(*) FROM devices WHERE osm_id IS NOT NULL").scalar_one() == MAPPED

    # Node 112376207 (Zürich): every mapped tag in a field, position exact.
    row = db(
        "SELECT kind, ST_X(geom) lon, ST_Y(geom) lat, direction, tags FROM devices "
        "WHERE osm_id = 112376207"
    ).one()
    source = next(e for e in json.loads(swiss_extract.read_text()) if e["id"] == 112376207)
    assert (row.lon, row.lat) == (source["lon"], source["lat"])
    assert row.direction == [int(source["tags"]["camera:direction"]) % 360]
    assert row.kind == "camera"
    alpr = db("SELECT count(*) FROM devices WHERE kind = 'alpr'").scalar_one()
    assert alpr == 2
    # Tags Vigie has no field for stay in `tags` (contact:webcam on 124 nodes, level on 149).
    assert db("SELECT count(*) FROM devices WHERE tags ? 'contact:webcam'").scalar_one() >= 120
    assert db("SELECT count(*) FROM devices WHERE tags ? 'level'").scalar_one() == 149

    again, counts = run_import(app, swiss_extract)
    assert again.exit_code == 0
    assert counts["created"] == 0 and counts["updated"] == 0 and counts["unchanged"] == MAPPED
    assert db("SELECT count(*) FROM devices").scalar_one() == MAPPED
    assert db("SELECT max(version) FROM devices").scalar_one() == 1


def osm_xml_file(tmp_path, version: int, direction: str, lat="46.5197") -> Path:
    path = tmp_path / f"v{version}.osm"
    path.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="Overpass API">
  <node id="4242" version="{version}" lat="{lat}" lon="6.6323">
    <tag k="man_made" v="surveillance"/>
    <tag k="surveillance:type" v="camera"/>
    <tag k="camera:direction" v="{direction}"/>
    <tag k="camera:mount" v="roof"/>
  </node>
  <node id="4243" version="1" lat="46.52" lon="6.63"><tag k="amenity" v="bench"/></node>
  <way id="7" version="1"><nd ref="4242"/></way>
</osm>
"""
    )
    return path


def device(db, osm_id=4242):
    return db(
        "SELECT id, osm_version, direction, mount, tags, version FROM devices WHERE osm_id = :o",
        o=osm_id,
    ).one()


def test_osm_xml_newer_versions_update_the_same_device(app, db, tmp_path):
    result, counts = run_import(app, osm_xml_file(tmp_path, 3, "90"))
    assert result.exit_code == 0, result.output
    assert counts == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "linked to a Vigie device": 0,
        "kept: deleted in Vigie": 0,
        "kept: edited in Vigie": 0,
        "skipped: not a surveillance device Vigie maps": 1,
        "skipped: way": 1,
    }
    first = device(db)
    assert (first.osm_version, first.direction, first.mount) == (3, [90], None)
    assert first.tags == {"camera:mount": "roof"}

    _, counts = run_import(app, osm_xml_file(tmp_path, 4, "180"))
    assert counts["updated"] == 1 and counts["created"] == 0
    second = device(db)
    assert (second.id, second.osm_version, second.direction) == (first.id, 4, [180])
    assert second.version == first.version + 1

    _, counts = run_import(app, osm_xml_file(tmp_path, 2, "270"))
    assert counts["unchanged"] == 1
    assert device(db).direction == [180]


def test_a_device_deleted_in_vigie_is_not_brought_back(app, db, tmp_path):
    run_import(app, osm_xml_file(tmp_path, 1, "90"))
    db("UPDATE devices SET deleted_at = now() WHERE osm_id = 4242")
    _, counts = run_import(app, osm_xml_file(tmp_path, 2, "180"))
    assert (counts["kept: deleted in Vigie"], counts["unchanged"]) == (1, 0)
    assert db("SELECT deleted_at IS NOT NULL FROM devices WHERE osm_id = 4242").scalar_one()


def test_a_device_edited_in_vigie_keeps_its_edits_over_a_newer_node(app, db, tmp_path, moderator):
    """What contributors and moderators made of a device wins over a later OSM version, and
    its history and statistics at a date, which replay its revisions, stay true to it."""
    run_import(app, osm_xml_file(tmp_path, 1, "90"))
    url = f"/api/v1/devices/{device(db).id}"
    edit = {"properties": {"direction": [45]}}
    etag = moderator.get(url).headers["ETag"]
    assert moderator.patch(url, json=edit, headers={"If-Match": etag}).status_code == 200
    edited = device(db)
    _, counts = run_import(app, osm_xml_file(tmp_path, 2, "180"))
    assert (counts["kept: edited in Vigie"], counts["updated"], counts["unchanged"]) == (1, 0, 0)
    kept = device(db)
    assert (kept.direction, kept.osm_version, kept.version) == ([45], 1, edited.version)


def test_a_newer_node_updates_its_device_whatever_others_were_edited(app, db, tmp_path, moderator):
    """Devices edited in Vigie elsewhere keep nothing else from an update; the update keeps
    when the device's status was set (it sets no status), which statistics date a removal by."""
    run_import(app, osm_xml_file(tmp_path, 1, "90"))
    pin(moderator, 2.35, 48.85)  # a device with a revision, elsewhere
    db(
        "UPDATE devices SET status = 'removed', updated_at = '2025-06-01T12:00:00Z' "
        "WHERE osm_id = 4242"
    )
    _, counts = run_import(app, osm_xml_file(tmp_path, 2, "180"))
    assert (counts["updated"], counts["kept: edited in Vigie"]) == (1, 0)
    updated = db(
        "SELECT direction, status, bulk_changed_at = '2025-06-01T12:00:00Z' AS removal_kept, "
        "updated_at > '2026-01-01' AS updated_now FROM devices WHERE osm_id = 4242"
    ).one()
    assert tuple(updated) == ([180], "removed", True, True)


def surveillance_nodes(path: Path, *nodes: str) -> Path:
    """An OSM XML file of man_made=surveillance nodes, each given by its attributes."""
    tag = "<tag k='man_made' v='surveillance'/>"
    elements = "".join(f"<node {attributes}>{tag}</node>" for attributes in nodes)
    path.write_text(f"<osm version='0.6'>{elements}</osm>")
    return path


def test_nodes_deleted_or_never_uploaded_are_not_imported(app, db, tmp_path):
    """Vigie's own export (negative ids), JOSM's deletions and deleted versions are no
    OpenStreetMap devices: skipped and counted."""
    path = surveillance_nodes(
        tmp_path / "edited.osm",
        "id='-12' lat='45' lon='2'",
        "id='13' version='2' action='delete' lat='45' lon='2'",
        "id='14' version='3' visible='false' lat='45' lon='2'",
        "id='15' version='1' lat='45' lon='2'",
    )
    result, counts = run_import(app, path)
    assert result.exit_code == 0, result.output
    assert counts["created"] == 1
    assert counts["skipped: node never uploaded to OSM (negative id)"] == 1
    assert counts["skipped: node deleted"] == 2
    assert db("SELECT osm_id FROM devices").scalars().all() == [15]


def uploaded(export: bytes, first_id: int, north: dict[float, float]) -> bytes:
    """Vigie's export as OpenStreetMap gives it back once uploaded: positive ids (first_id,
    first_id + 1...) and versions, the node at longitude L nudged NORTH[L] degrees north."""
    root = ET.fromstring(export)
    for number, node in enumerate(root.iter("node")):
        nudge = north.get(float(node.get("lon")), 0)
        node.set("lat", str(float(node.get("lat")) + nudge))
        node.set("id", str(first_id + number))
        node.set("version", "1")
    return ET.tostring(root)


def test_a_pin_exported_uploaded_and_imported_stays_one_device(app, db, tmp_path, moderator):
    """The round trip of the export: a contributor's pin, sent to OpenStreetMap through an
    editor, comes back as a node that is linked to it, not as a second device; it keeps what
    Vigie says, and is no longer exported as new."""
    near = pin(moderator, 6.6323, 46.5197, kind="camera", direction=[90])
    far = pin(moderator, 6.64, 46.52, kind="camera")
    other_kind = pin(moderator, 6.65, 46.52, kind="microphone")
    export = moderator.get("/api/v1/devices?f=osm")
    assert export.status_code == 200
    path = tmp_path / "uploaded.osm"
    # Nudged 1.1 m north in the editor, and 5.6 m, which makes that one another device.
    path.write_bytes(uploaded(export.data, 900, {6.6323: 0.00001, 6.64: 0.00005}))

    result, counts = run_import(app, path)
    assert result.exit_code == 0, result.output
    assert (counts["linked to a Vigie device"], counts["created"]) == (2, 1)
    linked = dict(db("SELECT id::text, osm_id IS NOT NULL FROM devices").all())
    assert linked[near["id"]] and linked[other_kind["id"]] and not linked[far["id"]]
    assert db("SELECT count(*) FROM devices").scalar_one() == 4
    kept = db("SELECT direction, version FROM devices WHERE id = :i", i=near["id"]).one()
    assert kept.direction == [90] and kept.version == 2
    feature = moderator.get(f"/api/v1/devices/{near['id']}").get_json()
    assert feature["properties"]["osm_id"] is not None

    again, counts = run_import(app, path)
    assert again.exit_code == 0
    assert (counts["linked to a Vigie device"], counts["created"]) == (0, 0)
    assert counts["kept: edited in Vigie"] == 2 and counts["unchanged"] == 1
    assert db("SELECT count(*) FROM devices").scalar_one() == 4
    exported = ET.fromstring(moderator.get("/api/v1/devices?f=osm").data).iter("node")
    assert [float(node.get("lon")) for node in exported] == [6.64]


def test_nodes_are_linked_one_to_one_to_the_nearest_device_of_their_kind(
    app, db, tmp_path, moderator
):
    """Two nodes at one pin: the nearer is the pin, the other a device of its own; a device
    already holding a node, or deleted, takes no other."""
    pin(moderator, 2.0, 45.0, kind="camera")
    gone = pin(moderator, 3.0, 45.0, kind="camera")
    db("UPDATE devices SET deleted_at = now() WHERE id = :i", i=gone["id"])
    path = surveillance_nodes(
        tmp_path / "two.osm",
        "id='21' version='1' lat='45.000005' lon='2'",
        "id='22' version='1' lat='45.000001' lon='2'",
        "id='23' version='1' lat='45' lon='3'",
    )
    result, counts = run_import(app, path)
    assert result.exit_code == 0, result.output
    assert (counts["linked to a Vigie device"], counts["created"]) == (1, 2)
    pins = "SELECT osm_id FROM devices WHERE created_by IS NOT NULL AND deleted_at IS NULL"
    assert db(pins).scalars().all() == [22]
    assert db("SELECT osm_id FROM devices WHERE deleted_at IS NOT NULL").scalar_one() is None


def test_export_ids_differ_for_time_ordered_uuids():
    """UUIDs of version 7 made in one millisecond differ in their last bits only."""
    first = uuid.UUID("01a2490b-eb59-7000-8000-000000000001")
    second = uuid.UUID("01a2490b-eb59-7001-8000-000000000001")
    ids = {new_node_id(first), new_node_id(second), new_node_id(uuid.UUID(int=1))}
    assert len(ids) == 3 and all(i < 0 for i in ids)


# A good node first: a bad one later must not leave it stored.
GOOD = '{"type": "node", "id": 5, "lat": 45, "lon": 2, "tags": {"man_made": "surveillance"}}'
GOOD_XML = "<node id='5' lat='45' lon='2'><tag k='man_made' v='surveillance'/></node>"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("just text", "neither Overpass JSON nor OSM XML"),
        ("{not json", "not valid JSON"),
        ('{"version": 0.6}', "no Overpass `elements`"),
        (f'[{GOOD}, {{"type": "node", "id": 1, "lat": 91, "lon": 2}}]', "not on Earth"),
        (f'[{GOOD}, {{"type": "node", "id": "x", "lat": 45, "lon": 2}}]', "node x"),
        # Tags as a list: a traceback (AttributeError) before.
        (f'[{GOOD}, {{"type": "node", "id": 3, "lat": 45, "lon": 2, "tags": ["a"]}}]', "node 3"),
        (f"<osm>{GOOD_XML}<node id='1' lat='45' lon='2'>", "not valid OSM XML"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(app, db, tmp_path, content, message):
    path = tmp_path / "bad.osm"
    path.write_text(content)
    result, _ = run_import(app, path)
    assert result.exit_code != 0
    assert message in result.output
    assert db("SELECT count(*) FROM devices").scalar_one() == 0
