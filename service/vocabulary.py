"""The device vocabulary, defined once: Vigie values and the OpenStreetMap tags they map to."""

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime


@dataclass(frozen=True)
class Kind:
    name: str
    description: str
    osm_tags: dict = field(default_factory=dict)
    is_camera: bool = False  # it films: a camera type (fixed, dome, panning), a view cone


SURVEILLANCE = {"man_made": "surveillance"}

KINDS = (
    Kind(
        "camera",
        "Video surveillance camera (CCTV).",
        {**SURVEILLANCE, "surveillance:type": "camera"},
        is_camera=True,
    ),
    Kind(
        "alpr",
        "Automatic licence/number-plate reader (ANPR/LAPI).",
        {**SURVEILLANCE, "surveillance:type": "ALPR"},
        is_camera=True,
    ),
    Kind(
        "facial_recognition",
        "Camera or gate performing facial recognition.",
        {**SURVEILLANCE, "surveillance:type": "camera", "camera:features": "face_recognition"},
        is_camera=True,
    ),
    Kind(
        "microphone",
        "Microphone detecting 'abnormal' sounds.",
        {**SURVEILLANCE, "surveillance:type": "microphone"},
    ),
    Kind(
        "gunshot_detector",
        "Acoustic gunshot detection sensor.",
        {**SURVEILLANCE, "surveillance:type": "gunshot_detector"},
    ),
    Kind(
        "sensor",
        "Any other surveillance sensor (wifi/bluetooth tracker, lidar, ...).",
        {**SURVEILLANCE, "surveillance:type": "sensor"},
    ),
)
KIND_NAMES = tuple(k.name for k in KINDS)
CAMERA_KINDS = tuple(k.name for k in KINDS if k.is_camera)

# Each of these maps one-to-one onto the OSM key in OSM_KEYS, with the same values.
CAMERA_TYPES = ("fixed", "dome", "panning")
MOUNTS = ("wall", "pole", "ceiling", "street_lamp", "other")
ZONES = ("town", "traffic", "parking", "shop", "transit", "building", "other")
SURVEILLANCE_AREAS = ("public", "outdoor", "indoor")
OPERATOR_TYPES = ("public", "private", "unknown")
STATUSES = ("active", "planned", "removed", "unknown")
REVIEW_STATUSES = ("pending", "approved", "rejected")
VERIFICATION_LEVELS = ("reported", "confirmed", "disputed", "removed")
VERDICTS = ("still_there", "not_found", "wrong_details")
ROLES = ("contributor", "moderator", "admin")

OSM_KEYS = {
    "camera_type": "camera:type",
    "mount": "camera:mount",
    "direction": "camera:direction",
    "angle": "camera:angle",
    "height": "height",
    "zone": "surveillance:zone",
    "surveillance": "surveillance",
    "operator": "operator",
    "operator_type": "operator:type",
    "source": "source",
    "observed_at": "survey:date",
}

NOTES_MAX_CHARS = 5000
OPERATOR_MAX_CHARS = 255
# Characters that show nothing though they are no space: soft hyphen, zero-width spaces and
# joiners, direction marks and embeddings, word joiner and invisible operators, byte order mark;
# and the separators and next-line control that Python's \s holds and ECMAScript's does not (the
# app reads the same pattern).
INVISIBLE = "\x1c-\x1f\x85\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
# A character that shows: free text of spaces and invisible characters alone says nothing.
VISIBLE = re.compile(f"[^\\s{INVISIBLE}]")

# Surveillance cameras date from the 1940s: a sighting (observed_at, survey:date) before 1900 is
# a typo (year 0024 for 2024), and would stretch every timeline of its district over centuries.
EARLIEST_SIGHTING_YEAR = 1900


def possible_sighting_day(day: date) -> bool:
    """Whether a device may have been seen on DAY (UTC): not ahead, not before 1900."""
    return day.year >= EARLIEST_SIGHTING_YEAR and day <= datetime.now(UTC).date()


SOURCE_MAX_CHARS = 2048
TAGS_MAX_ENTRIES = 50
TAG_MAX_CHARS = 255
PHOTOS_PER_REQUEST_MAX = 20

# Declared lists (docs/declared.md): the observed kinds a declared kind may turn out to be on the
# ground (a contributor may well file a plate reader or a face-recognising camera as a camera),
# and the words published lists use for a kind.
COMPATIBLE_KINDS = {
    "camera": ("camera", "alpr", "facial_recognition"),
    "alpr": ("alpr", "camera"),
    "facial_recognition": ("facial_recognition", "camera"),
    "microphone": ("microphone", "gunshot_detector"),
    "gunshot_detector": ("gunshot_detector", "microphone"),
    "sensor": ("sensor",),
}
DECLARED_KIND_WORDS = {
    **{name: name for name in KIND_NAMES},
    "cctv": "camera",
    "video": "camera",
    "vidéo": "camera",
    "caméra": "camera",
    "videoprotection": "camera",
    "vidéoprotection": "camera",
    "videosurveillance": "camera",
    "vidéosurveillance": "camera",
    "anpr": "alpr",
    "lapi": "alpr",
    "lpr": "alpr",
    "face_recognition": "facial_recognition",
    "gunshot": "gunshot_detector",
}
