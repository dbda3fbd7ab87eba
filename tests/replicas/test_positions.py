"""WAL positions as clients send them, and a replica's lag read off the primary's samples."""

import math
import time

import pytest

from service.replicas import ReplicaSet, parse_position


@pytest.mark.parametrize(
    ("text", "position"), [("0/0", 0), ("0/16B3748", 0x16B3748), ("16/B374D848", 0x16B374D848)]
)
def test_positions_are_read_as_postgresql_writes_them(text, position):
    assert parse_position(text) == position


@pytest.mark.parametrize("text", ["", "16", "/1", "1/", "x/1", "1/2/3", "123456789/0", "1/-2"])
def test_anything_else_is_refused(text):
    with pytest.raises(ValueError):
        parse_position(text)


def test_lag_is_the_time_since_the_primary_first_had_what_the_replica_lacks():
    replicas = ReplicaSet(primary=None, replicas=[], max_lag_seconds=10, check_seconds=1)
    assert replicas.lag(100) == math.inf  # nothing known of the primary yet
    now = time.monotonic()
    replicas.samples.extend([(now - 3, 100), (now - 2, 200), (now - 1, 300)])
    assert replicas.lag(300) == 0.0  # nothing missing, however long ago the last write
    assert replicas.lag(400) == 0.0
    assert 1 <= replicas.lag(250) < replicas.lag(150)  # lacks what the primary had 1 s ago
    assert 2 <= replicas.lag(150) < replicas.lag(50)  # ... 2 s ago
    assert replicas.lag(50) >= 3  # behind every sample: at least as old as the oldest
