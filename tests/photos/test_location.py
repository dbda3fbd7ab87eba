"""Reading where and when a photo was taken from its EXIF, without trusting the EXIF."""

import io
from datetime import UTC, datetime

import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from service.photos.location import read_capture_suggestion
from tests import images

GPS, BASE = ExifTags.GPS, ExifTags.Base


def image_with(gps: dict | None = None, exif_ifd: dict | None = None) -> bytes:
    """The EXIF block of a photo carrying these GPS and EXIF tags."""
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(gps or {})
    exif.get_ifd(ExifTags.IFD.Exif).update(exif_ifd or {})
    return exif.tobytes()


def test_south_and_west_are_negative():
    suggestion = read_capture_suggestion(
        image_with({1: "S", 2: (33.0, 52.0, 4.0), 3: "W", 4: (70.0, 39.0, 0.0)})
    )
    lon, lat = suggestion.location["coordinates"]
    assert lat == pytest.approx(-(33 + 52 / 60 + 4 / 3600), abs=1e-7)
    assert lon == pytest.approx(-(70 + 39 / 60), abs=1e-7)


def test_gps_time_is_the_fallback_and_is_utc():
    suggestion = read_capture_suggestion(
        image_with(
            {GPS.GPSDateStamp: "2026:03:04", GPS.GPSTimeStamp: (22.0, 15.0, 30.0)},
            {BASE.DateTimeOriginal: "2026:03:05 00:15:30"},  # local time, zone unknown
        )
    )
    assert suggestion.taken_at == datetime(2026, 3, 4, 22, 15, 30, tzinfo=UTC)
    assert suggestion.location is None and suggestion.accuracy_m is None


def test_a_local_time_without_zone_is_not_guessed():
    suggestion = read_capture_suggestion(
        image_with(exif_ifd={BASE.DateTimeOriginal: "2026:03:05 00:15:30"})
    )
    assert suggestion.taken_at is None


def test_offsets_west_of_greenwich():
    suggestion = read_capture_suggestion(
        image_with(
            exif_ifd={
                BASE.DateTimeOriginal: "2026:03:05 20:00:00",
                BASE.OffsetTimeOriginal: "-05:00",
            }
        )
    )
    assert suggestion.taken_at == datetime(2026, 3, 6, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "gps",
    [
        {1: "N", 2: (95.0, 0.0, 0.0), 3: "E", 4: (2.0, 0.0, 0.0)},  # latitude out of range
        {1: "N", 2: (48.0, 51.0), 3: "E", 4: (2.0, 17.0, 40.0)},  # two parts, not three
        {1: "N", 2: (IFDRational(48, 0), 0.0, 0.0), 3: "E", 4: (2.0, 17.0, 40.0)},  # 48/0
        {3: "E", 4: (2.0, 17.0, 40.0)},  # longitude only
        # 0, 0: what a phone without a fix writes (the pin would go to the Gulf of Guinea).
        {1: "N", 2: (0.0, 0.0, 0.0), 3: "E", 4: (0.0, 0.0, 0.0)},
        {1: "S", 2: (0.0, 0.0, 0.0), 3: "W", 4: (0.0, 0.0, 0.0)},
    ],
)
def test_unusable_positions_suggest_nothing(gps):
    assert read_capture_suggestion(image_with(gps)).location is None


def test_a_position_on_the_equator_or_the_meridian_alone_is_suggested():
    """Only 0, 0 together is no fix: a street of Libreville or of Greenwich is a place."""
    for gps in (
        {1: "N", 2: (0.0, 0.0, 0.0), 3: "E", 4: (9.0, 27.0, 0.0)},
        {1: "N", 2: (51.0, 28.0, 40.0), 3: "E", 4: (0.0, 0.0, 0.0)},
    ):
        assert read_capture_suggestion(image_with(gps)).location is not None


@pytest.mark.parametrize(
    "exif_ifd",
    [
        {BASE.DateTimeOriginal: "yesterday", BASE.OffsetTimeOriginal: "+01:00"},
        {BASE.DateTimeOriginal: "2026:03:05 20:00:00", BASE.OffsetTimeOriginal: "+1h"},
        # A day no pin may be seen on (observed_at refuses it): a camera clock never set.
        {BASE.DateTimeOriginal: "1850:01:01 00:00:00", BASE.OffsetTimeOriginal: "+00:00"},
        {BASE.DateTimeOriginal: "2099:01:01 00:00:00", BASE.OffsetTimeOriginal: "+00:00"},
    ],
)
def test_unusable_times_suggest_nothing(exif_ifd):
    assert read_capture_suggestion(image_with(exif_ifd=exif_ifd)).taken_at is None


def test_a_broken_exif_block_suggests_nothing():
    broken = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff"  # IFD claims 65535 entries
    with pytest.warns(UserWarning, match="Corrupt EXIF"):
        suggestion = read_capture_suggestion(broken)
    assert (suggestion.location, suggestion.taken_at) == (None, None)


def test_the_test_photos_position():
    with Image.open(io.BytesIO(images.leaky_photo("PNG"))) as photo:
        exif = photo.getexif().tobytes()
    assert read_capture_suggestion(exif).accuracy_m == images.ACCURACY_M
