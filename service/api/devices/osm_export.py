"""Devices as OSM XML (`f=osm`), for contributors who review and upload them to OSM themselves."""

from ...db import session
from ...delivery import conditional_response
from ...geo.devices.filter import DeviceFilter
from ...geo.osm import select_osm_export
from ...osm.files import new_node_id, osm_xml
from ...osm.tags import osm_tags

OSM_XML = "application/vnd.openstreetmap.data+xml"


def osm_export_response(flt: DeviceFilter, limit: int, after, bbox, next_link):
    rows = session.execute(select_osm_export(flt, limit, after)).mappings().all()
    page = rows[:limit]
    nodes = ((new_node_id(row["id"]), row["lon"], row["lat"], osm_tags(row)) for row in page)
    body = osm_xml(nodes, bbox)
    headers = {"Content-Disposition": 'attachment; filename="vigie-devices.osm"'}
    if len(rows) > limit:
        edge = f"{page[-1]['tile_key']}:{page[-1]['id']}"
        headers["Link"] = f'<{next_link(edge)}>; rel="next"'
    return conditional_response(body, OSM_XML, headers)
