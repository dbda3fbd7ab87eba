"""Import OSM surveillance nodes as devices, in batches, updating those imported before."""

import uuid
from collections import Counter
from pathlib import Path

from sqlalchemy.orm import Session

from ..geo.osm import (
    link_devices_to_nodes,
    select_kept_osm_devices,
    select_node_twins,
    upsert_osm_devices,
)
from .files import read_elements
from .tags import device_columns

BATCH_SIZE = 500


def device_row(node, columns: dict) -> dict:
    return {
        "id": uuid.uuid4(),
        "geom": f"SRID=4326;POINT({node.lon} {node.lat})",
        "osm_id": node.id,
        "osm_version": node.version,
        **columns,
    }


def one_to_one(pairs) -> dict[int, object]:
    """Device id by OSM id, from (osm_id, device id) pairs nearest first: each node and each
    device taken once, by its nearest twin still free."""
    taken, links = set(), {}
    for osm_id, device_id in pairs:
        if osm_id not in links and device_id not in taken:
            links[osm_id] = device_id
            taken.add(device_id)
    return links


def link_twins(session: Session, batch: dict[int, dict]) -> int:
    """Record the nodes of BATCH that are devices already in Vigie (select_node_twins) on those
    devices, and take them out of BATCH; returns how many."""
    links = one_to_one(session.execute(select_node_twins(list(batch.values()))).all())
    if links:
        session.execute(
            link_devices_to_nodes(),
            [
                {
                    "device_id": device_id,
                    "osm_id": osm_id,
                    "osm_version": batch.pop(osm_id)["osm_version"],
                }
                for osm_id, device_id in links.items()
            ],
        )
    return len(links)


def import_osm_file(session: Session, path: Path) -> Counter:
    """Import a file; returns counts: created, updated, unchanged, linked to a device already
    in Vigie, kept as deleted or edited in Vigie, and skipped (by reason)."""
    counts: Counter = Counter()
    batch: dict[int, dict] = {}

    def flush():
        if batch:
            counts["linked to a Vigie device"] += link_twins(session, batch)
        if batch:  # the nodes left: new to Vigie, or imported before
            deleted, edited = session.execute(select_kept_osm_devices(list(batch))).one()
            written = session.execute(upsert_osm_devices(list(batch.values()))).all()
            created = sum(1 for row in written if row.inserted)
            counts["created"] += created
            counts["updated"] += len(written) - created
            counts["kept: deleted in Vigie"] += deleted
            counts["kept: edited in Vigie"] += edited
            counts["unchanged"] += len(batch) - len(written) - deleted - edited
            batch.clear()

    for element in read_elements(path):
        if isinstance(element, str):
            counts[f"skipped: {element}"] += 1
            continue
        columns = device_columns(element.tags)
        if columns is None:
            counts["skipped: not a surveillance device Vigie maps"] += 1
            continue
        if element.id in batch:  # the same node twice: keep the later one
            counts["skipped: repeated node"] += 1
        batch[element.id] = device_row(element, columns)
        if len(batch) >= BATCH_SIZE:
            flush()
    flush()
    session.commit()
    return counts
