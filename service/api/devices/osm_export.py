"""Devices as OSM XML (`f=osm`), for contributors who review and upload them to OSM themselves."""

from dataclasses import replace

from ... import vocabulary as vocab
from ...db import session
from ...delivery import conditional_response
from ...geo.devices.filter import DeviceFilter
from ...geo.osm import select_osm_export
from ...geo.statistics.selection import PRESENT_STATUSES
from ...osm.files import new_node_id, osm_xml
from ...osm.tags import osm_tags
from ...visibility import ANONYMOUS
from ..credits import attribution_text, contributors_credit, licence_url, with_credit_headers

OSM_XML = "application/vnd.openstreetmap.data+xml"
# The verification level of a device trusted contributors voted not found.
GONE = "removed"


def exported(flt: DeviceFilter) -> DeviceFilter | None:
    """What of the listing's filter a file for OpenStreetMap holds: public pins only, whoever
    asks (a pin awaiting review, or rejected, is not for the world), standing there now (a
    node is a device that exists: removed and planned ones are not, nor those the community
    found gone); None when nothing is."""
    statuses = [s for s in flt.statuses or PRESENT_STATUSES if s in PRESENT_STATUSES]
    levels = [v for v in flt.verifications or vocab.VERIFICATION_LEVELS if v != GONE]
    if not (statuses and levels):
        return None
    return replace(flt, viewer=ANONYMOUS, statuses=statuses, verifications=levels)


def osm_export_response(flt: DeviceFilter, limit: int, after, bbox, next_link):
    flt = exported(flt)
    rows = [] if flt is None else session.execute(select_osm_export(flt, limit, after)).all()
    page = rows[:limit]
    nodes = ((new_node_id(row.id), row.lon, row.lat, osm_tags(row._mapping)) for row in page)
    # Vigie's own pins alone (OpenStreetMap's are not exported back): their contributors' credit.
    credits = [contributors_credit()]
    credit = {"copyright": attribution_text(credits)}
    if licence := licence_url(credits[0]):  # a URL, as OpenStreetMap's API gives
        credit["license"] = licence
    body = osm_xml(nodes, bbox, credit)
    headers = {"Content-Disposition": 'attachment; filename="vigie-devices.osm"'}
    if len(rows) > limit:
        edge = f"{page[-1].tile_key}:{page[-1].id}"
        headers["Link"] = f'<{next_link(edge)}>; rel="next"'
    return with_credit_headers(conditional_response(body, OSM_XML, headers), credits)
