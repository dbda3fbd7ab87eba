"""The position and time a phone wrote into a photo, read before the metadata is thrown away."""

import math
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from PIL import ExifTags, Image

from .. import vocabulary as vocab

GPS = ExifTags.GPS
EXIF = ExifTags.Base
# What Pillow may raise on a malformed EXIF block: never a reason to refuse the photo itself.
EXIF_ERRORS = (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError, struct.error)


@dataclass(frozen=True)
class CaptureSuggestion:
    """Where and when the photo says it was taken; each part may be unknown."""

    lon: float | None = None
    lat: float | None = None
    accuracy_m: float | None = None
    taken_at: datetime | None = None

    @property
    def location(self) -> dict | None:
        if self.lon is None or self.lat is None:
            return None
        return {"type": "Point", "coordinates": [round(self.lon, 7), round(self.lat, 7)]}


def degrees(dms, ref) -> float | None:
    """Degrees from EXIF's (degrees, minutes, seconds) rationals, negative south and west."""
    try:
        d, m, s = (float(part) for part in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    if not math.isfinite(value):
        return None
    return -value if str(ref).strip().upper() in ("S", "W") else value


def positive_number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def exif_offset(text) -> timezone | None:
    """A zone from OffsetTimeOriginal ("+02:00")."""
    try:
        sign = -1 if str(text)[0] == "-" else 1
        hours, minutes = str(text)[1:].split(":")
        return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
    except (ValueError, IndexError):
        return None


def capture_time(exif_ifd, gps) -> datetime | None:
    """The capture instant in UTC, on a day a device may have been seen (the pin's
    observed_at would refuse another); None when the photo does not say in which time zone."""
    instant = stated_capture_time(exif_ifd, gps)
    return instant if instant and vocab.possible_sighting_day(instant.date()) else None


def stated_capture_time(exif_ifd, gps) -> datetime | None:
    """The capture instant in UTC the photo states, if it says in which time zone."""
    original, offset = exif_ifd.get(EXIF.DateTimeOriginal), exif_ifd.get(EXIF.OffsetTimeOriginal)
    zone = exif_offset(offset) if offset else None
    if original and zone:
        try:
            local = datetime.strptime(str(original).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
            return local.replace(tzinfo=zone).astimezone(UTC)
        except ValueError:
            pass
    # GPS time is UTC by definition: the fallback when the camera clock has no zone.
    date, clock = gps.get(GPS.GPSDateStamp), gps.get(GPS.GPSTimeStamp)
    if date and clock:
        try:
            hours, minutes, seconds = (float(part) for part in clock)
            day = datetime.strptime(str(date).strip("\x00 "), "%Y:%m:%d").replace(tzinfo=UTC)
            return day + timedelta(hours=hours, minutes=minutes, seconds=seconds)
        except (TypeError, ValueError, ZeroDivisionError):
            return None
    return None


def parsed_exif(raw: bytes | None) -> Image.Exif:
    """An EXIF block (with or without its "Exif" header) read by Pillow's parser alone: no
    image is opened. Raises one of EXIF_ERRORS when it is malformed."""
    exif = Image.Exif()
    if raw:
        exif.load(raw)
    return exif


def orientation_of(raw: bytes | None) -> int:
    """The EXIF orientation (1 to 8; 1, as is, when absent or unreadable)."""
    try:
        orientation = int(parsed_exif(raw).get(EXIF.Orientation, 1))
    except EXIF_ERRORS:
        return 1
    return orientation if 1 <= orientation <= 8 else 1


def read_capture_suggestion(raw: bytes | None) -> CaptureSuggestion:
    """GPS position, its accuracy and the capture time from the original's EXIF block."""
    try:
        exif = parsed_exif(raw)
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    except EXIF_ERRORS:  # unreadable EXIF: no suggestion
        return CaptureSuggestion()
    lat = degrees(gps.get(GPS.GPSLatitude), gps.get(GPS.GPSLatitudeRef))
    lon = degrees(gps.get(GPS.GPSLongitude), gps.get(GPS.GPSLongitudeRef))
    # 0, 0 is what a phone writes with no fix (a point of the Gulf of Guinea, not a street).
    if (
        lat is None
        or lon is None
        or not (-90 <= lat <= 90 and -180 <= lon <= 180)
        or (lat == 0 and lon == 0)
    ):
        lat = lon = None
    return CaptureSuggestion(
        lon=lon,
        lat=lat,
        accuracy_m=positive_number(gps.get(GPS.GPSHPositioningError)) if lat is not None else None,
        taken_at=capture_time(exif_ifd, gps),
    )
