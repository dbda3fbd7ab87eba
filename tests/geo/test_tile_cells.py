"""device_tile_cells: the public devices counted per cell, exact after any sequence of writes,
and the low-zoom tiles that add them up equal to those that group every device."""

import random

import pytest
from sqlalchemy import Integer, select

from service import vocabulary as vocab
from service.geo.devices.filter import DeviceFilter
from service.geo.keys import KEY_ZOOM, mercator_pixel
from service.geo.statements import parameter
from service.geo.tiles import (
    CELL_LEVELS,
    KeyArea,
    cell_bits,
    counted_cells,
    counted_level,
    device_cells,
    device_tile_statement,
)

PARIS = (2.35, 48.85)

FROM_SCRATCH = """
    SELECT levels.zoom, d.tile_key >> (2 * (30 - levels.zoom)) AS cell, d.kind,
           count(*) AS devices, sum(d.mercator_x) AS sum_x, sum(d.mercator_y) AS sum_y
    FROM devices AS d CROSS JOIN unnest(CAST(:levels AS int[])) AS levels (zoom)
    WHERE d.review_status = 'approved' AND d.deleted_at IS NULL
    GROUP BY 1, 2, 3
"""
KEPT = "SELECT zoom, cell, kind, devices, sum_x, sum_y FROM device_tile_cells"


def counts(db, sql: str) -> set[tuple]:
    return {tuple(row) for row in db(sql, levels=list(CELL_LEVELS)).all()}


def insert_devices(db, rng: random.Random, count: int) -> None:
    """COUNT devices scattered over a few km around Paris, of every kind and review status."""
    rows = [
        {
            "lon": PARIS[0] + rng.gauss(0, 0.05),
            "lat": PARIS[1] + rng.gauss(0, 0.03),
            "kind": rng.choice(vocab.KIND_NAMES),
            "review": rng.choice(("approved", "approved", "pending", "rejected")),
        }
        for _ in range(count)
    ]
    for row in rows:
        db(
            "INSERT INTO devices (id, geom, kind, review_status) VALUES (gen_random_uuid(), "
            "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :kind, :review)",
            **row,
        )


CHANGES = [
    # Moves, some within their cell, some far away.
    "UPDATE devices SET geom = ST_Translate(geom, 0.0001, 0) WHERE tile_key % 7 = {r}",
    "UPDATE devices SET geom = ST_Translate(geom, -0.3, 0.2) WHERE tile_key % 11 = {r}",
    "UPDATE devices SET kind = 'alpr' WHERE tile_key % 5 = {r}",
    "UPDATE devices SET review_status = 'approved' WHERE tile_key % 3 = {r}",
    "UPDATE devices SET review_status = 'rejected' WHERE tile_key % 13 = {r}",
    "UPDATE devices SET deleted_at = now() WHERE tile_key % 9 = {r}",
    "UPDATE devices SET deleted_at = NULL WHERE tile_key % 4 = {r}",
    "UPDATE devices SET notes = 'seen again' WHERE tile_key % 2 = {r}",  # changes no count
    "DELETE FROM devices WHERE tile_key % 17 = {r}",
    # One statement that both moves devices and changes what counts.
    "UPDATE devices SET geom = ST_Translate(geom, 0, 0.01), kind = 'microphone', "
    "review_status = 'approved' WHERE tile_key % 6 = {r}",
]


def test_the_counts_equal_a_count_from_scratch_after_any_sequence_of_writes(app, db):
    rng = random.Random(17)
    insert_devices(db, rng, 300)
    assert counts(db, KEPT) == counts(db, FROM_SCRATCH)
    for _ in range(25):
        change = rng.choice(CHANGES).format(r=rng.randrange(3))
        db(change)
        assert counts(db, KEPT) == counts(db, FROM_SCRATCH), change
        if rng.random() < 0.2:
            insert_devices(db, rng, 20)
    # Empty cells do not linger.
    assert db("SELECT count(*) FROM device_tile_cells WHERE devices <= 0").scalar_one() == 0
    db("DELETE FROM devices")
    assert counts(db, KEPT) == set()


def test_a_truncate_empties_the_counts(app, db):
    insert_devices(db, random.Random(1), 10)
    assert counts(db, KEPT)
    db("TRUNCATE devices CASCADE")
    assert counts(db, KEPT) == set()


def test_tiles_made_of_counted_cells_equal_tiles_that_group_every_device(app, db, isolated):
    rng = random.Random(3)
    insert_devices(db, rng, 400)
    db("UPDATE devices SET deleted_at = now() WHERE tile_key % 10 = 0")
    x, y = mercator_pixel(*PARIS)
    for z in range(0, 14):
        cell_zoom = z + cell_bits(z)
        assert counted_level(cell_zoom) is not None
        tile_x, tile_y = x >> (KEY_ZOOM - z), y >> (KEY_ZOOM - z)
        for kinds in ([], ["camera", "alpr"]):
            flt = DeviceFilter(kinds=kinds)
            values = device_tile_statement(z, tile_x, tile_y, kinds).values
            counted = counted_cells(flt)
            grouped = device_cells(
                flt,
                KeyArea.of_tile(z, tile_x, tile_y),
                parameter("cell_shift", Integer),
            )
            rows = []
            for cells in (counted, grouped):
                statement = select(cells).order_by(cells.c.cell)
                rows.append(
                    [
                        (*row[:2], round(float(row.px), 6), round(float(row.py), 6), *row[4:])
                        for row in isolated.execute(statement, values)
                    ]
                )
            assert rows[0] == rows[1], (z, kinds)
            assert rows[0], "the tile holds devices"


@pytest.mark.parametrize("z", [14, 17, 20])
def test_tiles_with_finer_cells_group_the_devices_themselves(z):
    assert counted_level(z + cell_bits(z)) is None
    statement = device_tile_statement(z, 0, 0).statement
    assert "device_tile_cells" not in str(statement)
