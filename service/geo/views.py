"""View cones of cameras as GeoJSON: what ground each camera is modelled to see."""

import uuid

from sqlalchemy import Select, Text, and_, case, cast, func, or_, select

from ..models import Device
from .devices import COORDINATE_DECIMALS, sql_string
from .statistics import SEEING_KINDS, StatisticsFilter, ViewModel


def cone_feature_text(model: ViewModel):
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
    return func.concat(
        sql_string('{"type":"Feature","id":"'),
        cast(Device.id, Text),
        sql_string('","geometry":'),
        func.ST_AsGeoJSON(model.cone(), COORDINATE_DECIMALS),
        sql_string(',"properties":'),
        cast(properties, Text),
        sql_string("}"),
    )


def select_view_cone(device_id: uuid.UUID, model: ViewModel) -> Select:
    """One device's cone, with what the route needs to refuse a deleted or blind device."""
    return select(cone_feature_text(model).label("feature"), Device.kind, Device.deleted_at).where(
        Device.id == device_id
    )


def select_view_cones(flt: StatisticsFilter, model: ViewModel, limit: int) -> Select:
    """Cones of the cameras in view (devices whose centre is in the bbox), limit + 1 rows."""
    page = (
        select(
            cone_feature_text(model).label("feature"),
            func.row_number().over(order_by=Device.id).label("n"),
        )
        .where(and_(*flt.clauses(), Device.kind.in_(SEEING_KINDS)))
        .order_by(Device.id)
        .limit(limit + 1)
        .subquery("page")
    )
    in_page = page.c.n <= limit
    return select(
        func.coalesce(
            func.string_agg(page.c.feature, sql_string(",")).filter(in_page), sql_string("")
        ).label("features"),
        func.count().filter(in_page).label("returned"),
        (func.count() > limit).label("has_more"),
    )
