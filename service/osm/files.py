"""Reading Overpass JSON and OSM XML files, and writing OSM XML that JOSM opens."""

import hashlib
import json
import math
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from pathlib import Path

from .tags import OsmNode

GENERATOR = "Vigie"


class OsmFileError(ValueError):
    """The file is neither Overpass JSON nor OSM XML, or a node in it is malformed."""


def node_from(element_id, version, lat, lon, tags) -> OsmNode:
    if not isinstance(tags or {}, dict):
        raise OsmFileError(f"node {element_id}: its tags are not an object of keys and values")
    try:
        node = OsmNode(
            id=int(element_id),
            version=int(version) if version is not None else None,
            lon=float(lon),
            lat=float(lat),
            tags={str(k): str(v) for k, v in (tags or {}).items()},
        )
    except (TypeError, ValueError) as exc:
        raise OsmFileError(f"node {element_id}: {exc}") from exc
    if not (math.isfinite(node.lon) and math.isfinite(node.lat)) or not (
        -180 <= node.lon <= 180 and -90 <= node.lat <= 90
    ):
        raise OsmFileError(f"node {element_id}: position {node.lat},{node.lon} is not on Earth")
    return node


def not_in_osm(element_id, action=None, visible=None) -> str | None:
    """Why a node of the file is not one of OpenStreetMap's to import, or None: a negative id
    is an editor's object never uploaded (Vigie's own export, say), and a node deleted there
    (`visible="false"`) or in the editor (`action="delete"`) is no device."""
    if action == "delete" or str(visible).lower() == "false":
        return "node deleted"
    try:
        negative = int(element_id) < 0
    except (TypeError, ValueError):
        return None  # node_from says what is wrong with it
    return "node never uploaded to OSM (negative id)" if negative else None


def read_overpass_json(path: Path) -> Iterator[OsmNode | str]:
    """Overpass JSON: {"elements": [...]} or a bare list of elements."""
    try:
        document = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise OsmFileError(f"{path.name} is not valid JSON: {exc}") from exc
    elements = document.get("elements") if isinstance(document, dict) else document
    if not isinstance(elements, list):
        raise OsmFileError(f"{path.name} has no Overpass `elements` list")
    for element in elements:
        if not isinstance(element, dict):
            raise OsmFileError(f"{path.name}: an element is not an object")
        if element.get("type") != "node":
            yield str(element.get("type"))
            continue
        unwanted = not_in_osm(element.get("id"), visible=element.get("visible"))
        if unwanted:
            yield unwanted
            continue
        yield node_from(
            element.get("id"),
            element.get("version"),
            element.get("lat"),
            element.get("lon"),
            element.get("tags"),
        )


def read_osm_xml(path: Path) -> Iterator[OsmNode | str]:
    """OSM XML (API 0.6, JOSM or Overpass `out meta` output), read as a stream."""
    try:
        for _event, element in ET.iterparse(path, events=("end",)):
            if element.tag == "node":
                tags = {t.get("k"): t.get("v") for t in element.iter("tag")}
                unwanted = not_in_osm(*(element.get(a) for a in ("id", "action", "visible")))
                yield unwanted or node_from(
                    element.get("id"),
                    element.get("version"),
                    element.get("lat"),
                    element.get("lon"),
                    tags,
                )
                element.clear()
            elif element.tag in ("way", "relation"):
                yield element.tag
                element.clear()
    except ET.ParseError as exc:
        raise OsmFileError(f"{path.name} is not valid OSM XML: {exc}") from exc


def read_elements(path: Path) -> Iterator[OsmNode | str]:
    """Every node of the file as an OsmNode, and the type name of anything else."""
    with path.open("rb") as stream:
        start = stream.read(512).lstrip()
    if start.startswith(b"<"):
        return read_osm_xml(path)
    if start[:1] in (b"{", b"["):
        return read_overpass_json(path)
    raise OsmFileError(f"{path.name} is neither Overpass JSON nor OSM XML")


def new_node_id(device_id: uuid.UUID) -> int:
    """A device's node id in an OSM file: negative, as JOSM expects of objects not yet
    uploaded, and the same in every page and every export, so that files opened together do
    not share ids: 62 bits of a hash of the UUID (any UUID: some bits of a time-ordered or
    hand-made one are alike from one device to the next)."""
    digest = hashlib.blake2b(device_id.bytes, digest_size=8).digest()
    return -(int.from_bytes(digest) >> 2) - 1


def osm_xml(
    nodes: Iterable[tuple[int, float, float, dict[str, str]]],
    bbox=None,
    credit: dict[str, str] | None = None,
) -> bytes:
    """OSM XML of new nodes (node id, longitude, latitude, tags); CREDIT, the data's
    `copyright` and `license`, on the root as OpenStreetMap's API gives its own."""
    root = ET.Element("osm", version="0.6", generator=GENERATOR, **(credit or {}))
    if bbox:
        min_lon, min_lat, max_lon, max_lat = bbox
        if min_lon > max_lon:  # across the antimeridian, which OSM's bounds cannot say
            min_lon, max_lon = -180.0, 180.0
        ET.SubElement(
            root,
            "bounds",
            minlat=str(min_lat),
            minlon=str(min_lon),
            maxlat=str(max_lat),
            maxlon=str(max_lon),
        )
    for node_id, lon, lat, tags in nodes:
        node = ET.SubElement(root, "node", id=str(node_id), lat=str(lat), lon=str(lon))
        for key, value in sorted(tags.items()):
            ET.SubElement(node, "tag", k=key, v=value)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
