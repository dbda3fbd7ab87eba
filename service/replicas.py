"""Read replicas: which PostgreSQL server a read goes to, and how far behind each replica is.

Replicas are PostgreSQL streaming standbys (DATABASE_REPLICA_URLS). Every REPLICA_CHECK_SECONDS
at most, the request that finds the check due samples the primary's WAL position, then asks
each replica how far it has replayed. A replica is usable when it answers, is a standby, and
has replayed everything the primary had written REPLICA_MAX_LAG_SECONDS ago (or has nothing
missing at all): its lag is the time since the primary first had WAL that the replica still
lacks, read off the recent samples of the primary's position (a bounded history). A replica
that fails a request is skipped until the next check; the request is run again on the primary.

Positions are PostgreSQL LSNs ("16/B374D848"), as integers here.
"""

import collections
import logging
import math
import random
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Engine

from .errors import InvalidInput

log = logging.getLogger(__name__)
HEADER = "Vigie-WAL-Position"
# The position of what the primary has flushed (replicas receive only flushed WAL), and the
# position a write's answer carries: past the end of its commit record, whatever
# synchronous_commit says.
PRIMARY_FLUSHED = text("SELECT pg_current_wal_flush_lsn()::text")
PRIMARY_INSERTED = text("SELECT pg_current_wal_insert_lsn()::text")
POSITION = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")
REPLICA_REPLAYED = text("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text")


def parse_position(value: str) -> int:
    """An LSN as PostgreSQL writes it ("16/B374D848") as an integer; ValueError otherwise."""
    match = POSITION.fullmatch(value.strip())
    if match is None:
        raise ValueError(value)
    return (int(match[1], 16) << 32) | int(match[2], 16)


def format_position(position: int) -> str:
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


def requested_position(headers) -> int | None:
    """The WAL position a client asks its read to reflect (its last write's), if it sends one."""
    value = headers.get(HEADER)
    if value is None:
        return None
    try:
        return parse_position(value)
    except ValueError:
        raise InvalidInput(
            f"{HEADER} is a WAL position as a write's answer gives it (such as 0/16B3748): "
            "send back the last one received, unchanged.",
            field=HEADER,
        ) from None


@dataclass
class Replica:
    """One standby: its engine, and what the last check learnt of it."""

    engine: Engine
    name: str
    replayed: int | None = None  # None: unknown, down or not a standby
    lag_seconds: float = math.inf
    reads: int = 0  # requests routed here by this process (for tests and operators)
    failures: int = 0

    def usable(self, max_lag_seconds: float) -> bool:
        return self.replayed is not None and (
            self.lag_seconds == 0 or self.lag_seconds < max_lag_seconds
        )


class ReplicaSet:
    """The replicas of one primary, with a bounded cache of their health.

    Thread-safe: one thread runs a due check while the others route on the previous results.
    """

    def __init__(
        self,
        primary: Engine,
        replicas: list[Replica],
        max_lag_seconds: float,
        check_seconds: float,
    ):
        self.primary = primary
        self.replicas = replicas
        self.max_lag_seconds = max_lag_seconds
        self.check_seconds = check_seconds
        self.checked_at = -math.inf
        self.primary_answers = True  # as the last check found it
        # (monotonic time, primary's flushed position): enough samples, taken at least
        # check_seconds apart, to span the lag bound and one more check.
        spacing = max(check_seconds, 0.001)
        self.samples: collections.deque[tuple[float, int]] = collections.deque(
            maxlen=math.ceil(max_lag_seconds / spacing) + 2
        )
        self._checking = threading.Lock()

    def choose(self, after: int | None = None) -> Replica | None:
        """A usable replica that has replayed AFTER (when given), or None: read the primary."""
        self.check_if_due()
        candidates = [
            replica
            for replica in self.replicas
            if replica.replayed is not None and (after is None or replica.replayed >= after)
        ]
        if self.primary_answers:
            candidates = [replica for replica in candidates if replica.usable(self.max_lag_seconds)]
        # Without the primary no lag can be measured, and nothing newer can be read: the
        # replicas that answer serve what they have replayed, and the map stays readable.
        if not candidates:
            return None
        replica = random.choice(candidates)
        replica.reads += 1
        return replica

    def check_if_due(self) -> None:
        if time.monotonic() - self.checked_at < self.check_seconds:
            return
        if not self._checking.acquire(blocking=False):
            return  # another thread is checking: route on what is known
        try:
            if time.monotonic() - self.checked_at >= self.check_seconds:
                self.check()
        finally:
            self._checking.release()

    def check_now(self) -> None:
        """Check at once (a request met the primary down), unless a check began meanwhile:
        requests failing together wait for one check, not one each."""
        asked_at = time.monotonic()
        with self._checking:
            if self.checked_at < asked_at:
                self.check()

    def check(self) -> None:
        """Sample the primary's position, then ask every replica how far it has replayed."""
        try:
            self.samples.append((time.monotonic(), self._position(self.primary, PRIMARY_FLUSHED)))
            self.primary_answers = True
        except Exception as error:  # the request goes on, on a replica if one answers
            if self.primary_answers:
                log.warning("the primary's WAL position could not be read: %s", error)
            self.primary_answers = False
        for replica in self.replicas:
            self._check_replica(replica)
        self.checked_at = time.monotonic()

    def _check_replica(self, replica: Replica) -> None:
        try:
            with _autocommit(replica.engine) as connection:
                standby, replayed = connection.execute(REPLICA_REPLAYED).one()
        except Exception as error:  # whatever failed, the replica is skipped
            if replica.replayed is not None:
                log.warning("replica %s skipped: %s", replica.name, error)
            self.skip(replica)
            return
        if not standby or replayed is None:
            if replica.replayed is not None or replica.failures == 0:
                log.warning("replica %s skipped: it is not a streaming standby", replica.name)
            replica.failures += 1
            replica.replayed, replica.lag_seconds = None, math.inf
            return
        replica.replayed = parse_position(replayed)
        replica.lag_seconds = self.lag(replica.replayed)

    def lag(self, replayed: int) -> float:
        """Seconds since the primary first had WAL past REPLAYED (0: nothing is missing)."""
        now = time.monotonic()
        missing_since = None
        for sampled_at, position in reversed(self.samples):
            if position <= replayed:
                break
            missing_since = sampled_at
        if missing_since is None:
            return 0.0 if self.samples else math.inf
        return max(now - missing_since, 1e-9)

    def health(self) -> list[dict]:
        """What is known of each replica, checked now if a check is due."""
        self.check_if_due()
        return [
            {
                "name": replica.name,
                "usable": replica.usable(self.max_lag_seconds),
                "lag_seconds": None if math.isinf(replica.lag_seconds) else replica.lag_seconds,
                "replayed": None if replica.replayed is None else format_position(replica.replayed),
                "reads": replica.reads,
                "failures": replica.failures,
            }
            for replica in self.replicas
        ]

    def skip(self, replica: Replica) -> None:
        """Route nothing more to REPLICA until a check finds it well again."""
        replica.failures += 1
        replica.replayed, replica.lag_seconds = None, math.inf
        replica.engine.dispose()  # its pooled connections are likely dead too

    @staticmethod
    def _position(engine: Engine, statement) -> int:
        with _autocommit(engine) as connection:
            return parse_position(connection.execute(statement).scalar_one())


@contextmanager
def _autocommit(engine: Engine):
    """A pooled connection of ENGINE in autocommit mode, for one health query."""
    with engine.connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")


def replica_name(url) -> str:
    """Where a replica is, without its credentials: for logs."""
    host = url.host or url.query.get("host") or "localhost"
    return f"{host}:{url.port or 5432}/{url.database}"
