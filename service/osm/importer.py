"""Import OSM surveillance nodes as devices, in batches, updating those imported before."""

import uuid
from collections import Counter
from pathlib import Path

from sqlalchemy.orm import Session

from ..geo.osm import select_kept_osm_devices, upsert_osm_devices
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


def import_osm_file(session: Session, path: Path) -> Counter:
    """Import a file; returns counts: created, updated, unchanged, kept as deleted or edited in
    Vigie, and skipped (by reason)."""
    counts: Counter = Counter()
    batch: dict[int, dict] = {}

    def flush():
        if batch:
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
