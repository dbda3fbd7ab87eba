"""View cones of cameras as GeoJSON: what ground each camera is modelled to see."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Select, case, func, literal, null, or_, select
from sqlalchemy.sql.elements import ColumnElement

from .. import vocabulary as vocab
from ..config import view_radii
from ..models import Device
from .paging import select_first_features
from .sql import cut_at_antimeridian, feature_text, geojson_geometry, sql_string, uuid_json
from .statistics.selection import StatisticsFilter


@dataclass(frozen=True)
class ViewModel:
    """The view cone of a camera: radius per camera type, field of view when unknown."""

    radius_by_type: dict
    default_radius_m: float
    default_fov: float

    @classmethod
    def from_config(cls, config: Mapping) -> "ViewModel":
        """The model the settings VIEW_RADII ('fixed=30,dome=20'), VIEW_DEFAULT_RADIUS_M and
        VIEW_DEFAULT_FOV describe."""
        return cls(
            radius_by_type=view_radii(config["VIEW_RADII"]),
            default_radius_m=config["VIEW_DEFAULT_RADIUS_M"],
            default_fov=config["VIEW_DEFAULT_FOV"],
        )

    @property
    def max_radius_m(self) -> float:
        return max([self.default_radius_m, *self.radius_by_type.values()])

    def radius(self, source=Device) -> ColumnElement:
        """Metres seen, by camera type. SOURCE, here and below: the devices' columns by name,
        the devices table or the states of statistics/selection.py with their view at a
        date."""
        whens = [(source.camera_type == t, float(r)) for t, r in self.radius_by_type.items()]
        return (
            case(*whens, else_=float(self.default_radius_m))
            if whens
            else literal(float(self.default_radius_m))
        )

    def fov(self, source=Device) -> ColumnElement:
        """Degrees seen around each direction; NULL (a full disc) for domes."""
        return case(
            (source.camera_type == "dome", null()),
            else_=func.coalesce(source.angle, float(self.default_fov)),
        )

    def cone(self, source=Device) -> ColumnElement:
        """The ground seen: a sector per direction, or a disc."""
        return func.view_cone(source.geom, source.direction, self.fov(source), self.radius(source))


def cone_feature_text(model: ViewModel) -> ColumnElement:
    fov = model.fov()
    disc = or_(
        Device.direction.is_(None),
        func.cardinality(Device.direction) == 0,
        fov.is_(None),
        fov >= 360,
    )
    properties = func.json_build_object(
        sql_string("kind"),
        Device.kind,
        sql_string("camera_type"),
        Device.camera_type,
        sql_string("direction"),
        Device.direction,
        sql_string("fov"),
        case((disc, None), else_=fov),
        sql_string("radius_m"),
        model.radius(),
        sql_string("shape"),
        case((disc, sql_string("disc")), else_=sql_string("sector")),
    )
    geometry = geojson_geometry(cut_at_antimeridian(model.cone()))
    return feature_text(uuid_json(Device.id), geometry, properties)


def select_view_cone(device_id: uuid.UUID, model: ViewModel) -> Select:
    """One device's cone, with what the route needs to apply service/visibility.py and to
    refuse a deleted or blind device."""
    return select(
        cone_feature_text(model).label("feature"),
        Device.kind,
        Device.deleted_at,
        Device.merged_into,
        Device.review_status,
        Device.created_by,
    ).where(Device.id == device_id)


def select_view_cones(flt: StatisticsFilter, model: ViewModel, limit: int) -> Select:
    """Cones of the public cameras in view (devices whose centre is in the bbox), in id order."""
    clauses = [*flt.clauses(), Device.kind.in_(vocab.CAMERA_KINDS)]
    return select_first_features(cone_feature_text(model), Device.id, clauses, limit)
