"""Which devices count in a statistic, and which districts it is about."""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from ...models import Device, DeviceRevision, District
from ..devices.filter import DeviceFilter
from ..districts import district_clauses

# A device is on the map now when its status says it is there.
PRESENT_STATUSES = ("active", "unknown")


def appeared_at() -> ColumnElement:
    """When a device came onto the map: its first observation, else when it was pinned.

    With an edit history, this and removed_at() become lookups into it; nothing else changes.
    """
    return func.coalesce(Device.observed_at, Device.created_at)


def removed_at() -> ColumnElement:
    """When a device left the map: for a device marked removed, the last revision that set its
    status to removed; without such a revision (devices loaded in bulk), its last change, the
    latest moment the removal can have been recorded. Otherwise never."""
    marked_removed = (
        select(func.max(DeviceRevision.created_at))
        .where(
            DeviceRevision.device_id == Device.id,
            DeviceRevision.changes[("status", 1)].astext == "removed",
        )
        .scalar_subquery()
    )
    return case((Device.status == "removed", func.coalesce(marked_removed, Device.updated_at)))


@dataclass
class StatisticsFilter:
    """Which devices count; `at` replays the map as it stood on that date."""

    kinds: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    operator_types: list[str] = field(default_factory=list)
    verifications: list[str] = field(default_factory=list)
    at: datetime | None = None
    bboxes: list[tuple[float, float, float, float]] = field(default_factory=list)

    def device_filter(self) -> DeviceFilter:
        return DeviceFilter(
            bboxes=self.bboxes,
            kinds=self.kinds,
            statuses=self.statuses,
            operator_types=self.operator_types,
            verifications=self.verifications,
        )

    def clauses(self) -> list[ColumnElement]:
        clauses = self.device_filter().clauses()
        if self.at is None:
            if not self.statuses:
                clauses.append(Device.status.in_(PRESENT_STATUSES))
        else:
            clauses += [
                appeared_at() <= self.at,
                or_(removed_at().is_(None), removed_at() > self.at),
                Device.status != "planned",
            ]
        return clauses

    def answered_by_counts(self) -> bool:
        """Whether the district counts kept at write time answer this filter (the map now,
        without a bbox); otherwise devices are joined with the districts' polygons."""
        return self.at is None and not self.bboxes

    def count_clauses(self, counts) -> list[ColumnElement]:
        """The filter on the columns of the counts table COUNTS (which holds public devices
        only): the same choice as clauses() for the map now."""
        chosen = {
            "kind": self.kinds,
            "status": self.statuses or list(PRESENT_STATUSES),
            "operator_type": self.operator_types,
            "verification": self.verifications,
        }
        return [counts.c[name].in_(values) for name, values in chosen.items() if values]

    def history_clauses(self) -> list[ColumnElement]:
        """The same choice for a timeline, where every date is replayed: no status default."""
        return [
            *self.device_filter().clauses(),
            Device.status != "planned",
        ]


@dataclass
class DistrictSelection:
    levels: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    def clauses(self, table=District) -> list[ColumnElement]:
        return district_clauses(self.levels, self.parents, self.codes, table=table)
