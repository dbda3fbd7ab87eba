"""DeviceFilter: what a client may filter devices on, and who is looking."""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    Boolean,
    DateTime,
    Float,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from ...models import DeclaredMatch, Device
from ...visibility import ANONYMOUS, Viewer, public_day, visible_clause
from ..statements import parameter as required


def device_time() -> ColumnElement:
    """The day a device is known at: when it was observed, else when it last changed (days,
    as others read its times: service/visibility.py; devices_time_idx holds it)."""
    return public_day(func.coalesce(Device.observed_at, Device.updated_at))


def within_bboxes(point: ColumnElement, bboxes) -> ColumnElement:
    """Whether the point lies in any of the boxes (west, south, east, north), edges included.

    The GiST index finds the candidates (`&&`), but compares boxes of float4, rounded outward:
    a point a metre or two outside a box would pass. Its own coordinates decide.
    """
    x, y = func.ST_X(point), func.ST_Y(point)
    return or_(
        *(
            and_(
                point.op("&&")(func.ST_MakeEnvelope(west, south, east, north, 4326)),
                x.between(west, east),
                y.between(south, north),
            )
            for west, south, east, north in bboxes
        )
    )


def within_interval(instant: ColumnElement, interval) -> list[ColumnElement]:
    """Clauses keeping instants inside a closed interval; None leaves that end open."""
    start, end = interval
    clauses = []
    if start is not None:
        clauses.append(instant >= start)
    if end is not None:
        clauses.append(instant <= end)
    return clauses


# Filters keeping devices whose column holds one of the chosen values: the parameter's name,
# the DeviceFilter field of the values, the column.
LIST_FILTERS = (
    ("filter_kinds", "kinds", Device.kind),
    ("filter_statuses", "statuses", Device.status),
    ("filter_operator_types", "operator_types", Device.operator_type),
    ("filter_verifications", "verifications", Device.verification),
)


@dataclass
class DeviceFilter:
    """What a client may filter devices on; empty means no filter.

    Every selection of devices goes through `clauses()`: it leaves out tombstones and the
    pins the viewer may not see (service/visibility.py). Its values travel in named parameters
    (`values()`), so that a statement built for one filter serves every filter of the same
    `shape()` (service/geo/statements.py).
    """

    bboxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    operator_types: list[str] = field(default_factory=list)
    verifications: list[str] = field(default_factory=list)
    updated_since: datetime | None = None
    viewer: Viewer = ANONYMOUS
    # Closed interval on device_time(); either end may be None (open).
    interval: tuple[datetime | None, datetime | None] | None = None
    # Only devices that match (True) or match no (False) site of a declared list.
    declared: bool | None = None
    # Further conditions already built on whitelisted columns (property filters, CQL2).
    conditions: list[ColumnElement] = field(default_factory=list)

    def values(self) -> dict:
        """The values of the filter's parameters by name, without building any SQL.

        Each parameter is named after what it filters and is present only when that filter
        is, so the set of names is, with the kind of viewer, the shape of the statements.
        """
        values: dict = {}
        if self.viewer.id is not None and not self.viewer.sees_every_pin:
            values["filter_viewer"] = self.viewer.id
        for i, bbox in enumerate(self.bboxes):
            values |= dict(zip(box_parameter_names(i), bbox, strict=True))
        for name, attribute, _column in LIST_FILTERS:
            if chosen := getattr(self, attribute):
                values[name] = list(chosen)
        if self.declared is not None:
            values["filter_declared"] = self.declared
        if self.updated_since is not None:
            values["filter_updated_since"] = self.updated_since
        if self.interval is not None:
            start, end = self.interval
            if start is not None:
                values["filter_start"] = start
            if end is not None:
                values["filter_end"] = end
        return values

    def shape(self, values: dict) -> tuple:
        """What statements built for this filter and VALUES have in common; None: nothing.

        A filter with `conditions` (arbitrary expressions) has no shape to reuse.
        """
        if self.conditions:
            return None
        return frozenset(values), self.viewer.sees_every_pin

    def clauses(self, *, kept: bool = False) -> list[ColumnElement]:
        """The filter as SQL, whose values travel in the named parameters of values().

        KEPT: for a statement of the registry, whose parameters carry no value.
        """
        values = self.values()
        instant = DateTime(timezone=True)

        def parameter(name: str, type_) -> BindParameter | None:
            if name not in values:
                return None
            return required(name, type_) if kept else bindparam(name, values[name], type_=type_)

        clauses = [
            Device.deleted_at.is_(None),
            visible_clause(self.viewer, parameter("filter_viewer", UUID(as_uuid=True))),
        ]
        if self.bboxes:
            clauses.append(self.box_test(kept=kept))
        for name, _attribute, column in LIST_FILTERS:
            if name in values:
                clauses.append(column == any_(parameter(name, ARRAY(Text))))
        if "filter_declared" in values:
            matches = exists().where(DeclaredMatch.device_id == Device.id)
            clauses.append(matches == parameter("filter_declared", Boolean))
        if "filter_updated_since" in values:
            # Changed on that day or later: a finer instant would tell when, to the second, a
            # device changed (a client asking since its last visit gets that day again).
            since = public_day(parameter("filter_updated_since", instant))
            clauses.append(Device.updated_at >= since)
        if self.interval is not None:
            interval = (parameter("filter_start", instant), parameter("filter_end", instant))
            clauses += within_interval(device_time(), interval)
        return clauses + self.conditions

    def box_test(self, *, kept: bool = False) -> ColumnElement:
        """Whether a device lies in one of the boxes, whose edges are parameters."""
        boxes = []
        for i, bbox in enumerate(self.bboxes):
            names = box_parameter_names(i)
            if kept:
                boxes.append([required(name, Float) for name in names])
            else:
                boxes.append(
                    [bindparam(n, v, type_=Float) for n, v in zip(names, bbox, strict=True)]
                )
        return within_bboxes(Device.geom, boxes)


def box_parameter_names(i: int) -> tuple[str, ...]:
    return tuple(f"filter_bbox{i}_{edge}" for edge in ("west", "south", "east", "north"))


def count_devices(flt: DeviceFilter) -> Select:
    return select(func.count()).select_from(Device).where(and_(*flt.clauses()))
