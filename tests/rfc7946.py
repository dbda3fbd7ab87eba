"""An RFC 7946 checker for the GeoJSON the API serves: structure, positions, rings, winding."""

import itertools
import math

GEOMETRY_TYPES = {
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
    "GeometryCollection",
}  # fmt: skip


def signed_area(ring: list) -> float:
    """Twice the signed area of a ring in the lon/lat plane: positive when counterclockwise."""
    return sum(x1 * y2 - x2 * y1 for (x1, y1, *_), (x2, y2, *_) in itertools.pairwise(ring))


def check_position(position, where: str) -> list[str]:
    if not isinstance(position, list) or not 2 <= len(position) <= 3:
        return [f"{where}: a position is 2 or 3 numbers"]
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in position):
        return [f"{where}: positions are finite numbers"]
    lon, lat = position[:2]
    problems = []
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        problems.append(f"{where}: {position} is not longitude, latitude (section 3.1.1)")
    if any(len(repr(float(v)).split(".")[-1]) > 7 for v in (lon, lat) if "e" not in repr(v)):
        problems.append(f"{where}: {position} has more than 7 decimals")
    return problems


def check_rings(rings, where: str) -> list[str]:
    problems = []
    for index, ring in enumerate(rings):
        problems += [p for pos in ring for p in check_position(pos, where)]
        if len(ring) < 4 or ring[0] != ring[-1]:
            problems.append(f"{where}: ring {index} is not closed with 4 positions or more")
            continue
        area = signed_area(ring)
        if index == 0 and area < 0:
            problems.append(f"{where}: exterior ring is clockwise (section 3.1.6)")
        if index > 0 and area > 0:
            problems.append(f"{where}: hole {index} is counterclockwise (section 3.1.6)")
    return problems


def check_geometry(geometry, where: str) -> list[str]:
    if geometry is None:
        return []
    kind = geometry.get("type")
    if kind not in GEOMETRY_TYPES:
        return [f"{where}: unknown geometry type {kind!r}"]
    if kind == "GeometryCollection":
        return [p for g in geometry["geometries"] for p in check_geometry(g, where)]
    coordinates = geometry.get("coordinates")
    if kind == "Point":
        return check_position(coordinates, where)
    if kind in ("MultiPoint", "LineString"):
        return [p for pos in coordinates for p in check_position(pos, where)]
    if kind == "MultiLineString":
        return [p for line in coordinates for pos in line for p in check_position(pos, where)]
    if kind == "Polygon":
        return check_rings(coordinates, where)
    return [p for polygon in coordinates for p in check_rings(polygon, where)]


def check_feature(feature, where: str) -> list[str]:
    if feature.get("type") != "Feature":
        return [f"{where}: not a Feature"]
    problems = []
    if "geometry" not in feature or "properties" not in feature:
        problems.append(f"{where}: a Feature has geometry and properties members (3.2)")
    if "id" in feature and not isinstance(feature["id"], str | int | float):
        problems.append(f"{where}: id is a string or a number (3.2)")
    if "crs" in feature:
        problems.append(f"{where}: no crs member in RFC 7946 GeoJSON")
    return problems + check_geometry(feature.get("geometry"), where)


def rfc7946_problems(document, where: str = "document") -> list[str]:
    """Everything in DOCUMENT that RFC 7946 forbids or advises against (empty: valid)."""
    if document.get("type") == "FeatureCollection":
        if "crs" in document:
            return [f"{where}: no crs member in RFC 7946 GeoJSON"]
        return [
            p
            for index, feature in enumerate(document.get("features", []))
            for p in check_feature(feature, f"{where} feature {index}")
        ]
    if document.get("type") == "Feature":
        return check_feature(document, where)
    return check_geometry(document, where)
