"""Uploads become clean, upright JPEG renditions; the original's GPS becomes a suggestion."""

import io
import subprocess
import sys
from datetime import UTC, datetime

import exifread
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from service.errors import ServiceError, UnprocessableImage, UnsupportedMediaType
from service.photos.processing import process_photo
from service.photos.vips import pyvips
from tests import images

# What a clean JPEG may still say about itself: its JFIF header (no EXIF, XMP, IPTC, comments,
# ICC profile, Adobe or other application segment).
JFIF_ONLY = {"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi"}
APP0, SOF0, DHT, DQT, SOS = 0xE0, 0xC0, 0xC4, 0xDB, 0xDA


def process(data: bytes, max_pixels: int = 64_000_000):
    return process_photo(io.BytesIO(data), max_pixels=max_pixels)


def assert_no_metadata(data: bytes) -> None:
    """Check a served JPEG with readers that share no code with the service."""
    assert exifread.process_file(io.BytesIO(data), details=True) == {}
    assert set(images.jpeg_segments(data)) <= {APP0, SOF0, DHT, DQT, SOS}
    for secret in images.SECRETS + images.GPS_NEEDLES:
        assert secret not in data
    with Image.open(io.BytesIO(data)) as served:
        assert served.format == "JPEG"
        assert set(served.info) <= JFIF_ONLY
        assert len(served.getexif()) == 0


@pytest.mark.parametrize("fmt", images.FORMATS)
def test_every_rendition_is_stripped_of_all_metadata(fmt):
    original = images.leaky_photo(fmt)
    # The test image does carry what must disappear.
    assert images.SERIAL.encode() in original and b"x:xmpmeta" in original
    assert any(needle in original for needle in images.GPS_NEEDLES)
    processed = process(original)
    assert [r.name for r in processed.renditions] == ["full", "large", "thumbnail"]
    for rendition in processed.renditions:
        assert_no_metadata(rendition.data)


def test_jpeg_iptc_and_comment_segments_are_in_the_original_only():
    original = images.leaky_photo("JPEG")
    assert {0xED, 0xFE, 0xE1, 0xE2} <= set(images.jpeg_segments(original))  # IPTC, COM, APP1/2
    assert images.IPTC_BYLINE in original
    full = process(original).full.data
    assert images.IPTC_BYLINE not in full


def colour_at(data: bytes, xy) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").getpixel(xy)


def is_blue(rgb) -> bool:
    return rgb[2] > 150 and rgb[0] < 100


@pytest.mark.parametrize("fmt", images.FORMATS)
def test_orientation_is_applied(fmt):
    # Orientation 6: the stored 600x200 picture is shown turned a quarter clockwise, so the
    # blue left third ends at the top of a 200x600 portrait.
    full = process(images.leaky_photo(fmt, orientation=6)).full
    assert (full.width, full.height) == (200, 600)
    assert is_blue(colour_at(full.data, (100, 20)))
    assert not is_blue(colour_at(full.data, (100, 580)))


@pytest.mark.parametrize(
    "orientation, size, blue_at",
    [(1, (600, 200), (20, 100)), (3, (600, 200), (580, 100)), (8, (200, 600), (100, 580))],
)
def test_other_orientations(orientation, size, blue_at):
    full = process(images.leaky_photo("JPEG", orientation=orientation)).full
    assert (full.width, full.height) == size
    assert is_blue(colour_at(full.data, blue_at))


def test_sizes_are_capped_and_aspect_kept():
    processed = process(images.plain_photo("PNG", size=(3000, 1500)))
    sizes = {r.name: (r.width, r.height) for r in processed.renditions}
    assert sizes == {"full": (2560, 1280), "large": (1024, 512), "thumbnail": (320, 160)}
    for rendition in processed.renditions:
        with Image.open(io.BytesIO(rendition.data)) as image:
            assert image.size == (rendition.width, rendition.height)


def test_same_image_gives_the_same_bytes():
    data = images.leaky_photo("WEBP")
    first, second = process(data), process(data)
    assert [r.sha256 for r in first.renditions] == [r.sha256 for r in second.renditions]


@pytest.mark.parametrize("fmt", images.FORMATS)
def test_gps_accuracy_and_time_are_suggested(fmt):
    suggestion = process(images.leaky_photo(fmt)).suggestion
    lon, lat = suggestion.location["coordinates"]
    assert lon == pytest.approx(images.LON_DEG, abs=1e-6)
    assert lat == pytest.approx(images.LAT_DEG, abs=1e-6)
    assert suggestion.accuracy_m == images.ACCURACY_M
    assert suggestion.taken_at == datetime.fromisoformat(images.TAKEN_UTC).replace(tzinfo=UTC)


def test_a_photo_without_exif_suggests_nothing():
    suggestion = process(images.plain_photo()).suggestion
    assert (suggestion.location, suggestion.accuracy_m, suggestion.taken_at) == (None, None, None)


def test_transparency_is_laid_on_white():
    out = io.BytesIO()
    Image.new("RGBA", (50, 50), (255, 0, 0, 0)).save(out, "PNG")
    full = process(out.getvalue()).full
    assert min(colour_at(full.data, (25, 25))) > 245


@pytest.mark.parametrize(
    "data, error",
    [
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'><rect width='9' height='9'/></svg>",
            UnsupportedMediaType,
        ),
        (b"%PDF-1.7 not an image", UnsupportedMediaType),
        (images.animated("GIF"), UnsupportedMediaType),
        (images.animated("WEBP"), UnprocessableImage),
        (images.animated("PNG"), UnprocessableImage),
        (images.png_claiming(100_000, 100_000), UnprocessableImage),
        (images.png_claiming(9_000, 9_000), UnprocessableImage),
        (images.plain_photo("JPEG", size=(800, 600))[:1500], UnprocessableImage),
        (images.leaky_photo("HEIF")[:900], UnprocessableImage),
    ],
    ids=[
        "svg",
        "pdf",
        "gif",
        "animated-webp",
        "apng",
        "huge-bomb",
        "bomb",
        "truncated-jpeg",
        "truncated-heic",
    ],
)
def test_refusals(data, error):
    with pytest.raises(error):
        process(data)


def test_an_unusable_colour_profile_is_ignored_not_fatal():
    out = io.BytesIO()
    images.two_colour_picture().save(out, "JPEG", icc_profile=b"not a profile at all")
    full = process(out.getvalue()).full
    assert_no_metadata(full.data)
    assert is_blue(colour_at(full.data, (20, 100)))


@pytest.mark.parametrize(
    "picture, fmt, expected",
    [
        (Image.new("I;16", (40, 30), 40000), "PNG", (156, 156, 156)),  # 16-bit grey
        (Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG", (254, 0, 0)),
        (Image.new("1", (40, 30), 1), "PNG", (255, 255, 255)),
        (Image.new("LA", (40, 30), (100, 128)), "PNG", (177, 177, 177)),  # half transparent
        (Image.new("L", (40, 30), 100), "WEBP", (100, 100, 100)),
    ],
    ids=["16-bit-grey", "cmyk", "bilevel", "grey-alpha", "grey"],
)
def test_every_pixel_format_becomes_rgb(picture, fmt, expected):
    out = io.BytesIO()
    picture.save(out, fmt)
    full = process(out.getvalue()).full
    with Image.open(io.BytesIO(full.data)) as served:
        assert served.mode == "RGB" and served.size == (40, 30)
        assert served.getpixel((20, 15)) == pytest.approx(expected, abs=3)


SMALL_ORIGINALS = {fmt: images.leaky_photo(fmt, size=(64, 48)) for fmt in images.FORMATS}


@pytest.mark.parametrize("fmt", images.FORMATS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_damaged_files_are_refused_cleanly_or_cleaned(fmt, data):
    """Corrupted bytes end in a 415/422 refusal or a clean photo, never in another error."""
    damaged = bytearray(SMALL_ORIGINALS[fmt])
    for _ in range(data.draw(st.integers(1, 8))):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(damaged)))
    try:
        processed = process(bytes(damaged[:cut]), max_pixels=10_000_000)
    except ServiceError as refusal:
        assert refusal.status in (415, 422)
    else:
        for rendition in processed.renditions:
            assert_no_metadata(rendition.data)


def quadrants(size=(400, 300)) -> Image.Image:
    """Four colours, one per quarter: where each lands tells how the picture was turned."""
    picture = Image.new("RGB", size)
    width, height = size
    for (x, y), colour in zip(
        [(0, 0), (1, 0), (0, 1), (1, 1)],
        [(220, 30, 30), (30, 200, 30), (30, 30, 220), (230, 230, 30)],
        strict=True,
    ):
        box = (x * width // 2, y * height // 2, (x + 1) * width // 2, (y + 1) * height // 2)
        picture.paste(colour, box)
    return picture


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_stands_the_picture_up_as_pillow_would(orientation):
    picture = quadrants()
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif.tobytes(), quality=95)
    full = process(out.getvalue()).full
    with Image.open(out) as original:
        expected = ImageOps.exif_transpose(original).convert("RGB")
    assert (full.width, full.height) == expected.size
    w, h = expected.size
    for xy in [(w // 4, h // 4), (w * 3 // 4, h // 4), (w // 4, h * 3 // 4)]:
        assert colour_at(full.data, xy) == pytest.approx(expected.getpixel(xy), abs=12)


@pytest.mark.parametrize(
    "fmt, size, full_size",
    [
        # Decoded at half scale: 2100 px is still at least SHRINK_ON_LOAD_MIN.
        ("JPEG", (4200, 2800), (2100, 1400)),
        # Half of 3900 px would be under it: decoded whole, then resized.
        ("JPEG", (3900, 2600), (2560, 1707)),
        ("JPEG", (9000, 3000), (2250, 750)),  # a quarter: 2250 px
        ("PNG", (4200, 2800), (2560, 1707)),  # no reduced decoding for PNG
        # A strip keeps its pixel across: shrunk only while a side of at least one remains.
        ("JPEG", (1, 10000), (1, 2560)),
        ("JPEG", (10000, 5), (2500, 1)),
    ],
)
def test_large_jpegs_are_decoded_at_a_reduced_scale(fmt, size, full_size):
    processed = process(images.plain_photo(fmt, size=size))
    sizes = [(r.width, r.height) for r in processed.renditions]
    assert sizes[0] == full_size
    assert max(sizes[1]) == 1024 and max(sizes[2]) == 320
    with Image.open(io.BytesIO(processed.full.data)) as image:
        assert image.size == full_size


@pytest.mark.parametrize(("orientation", "copies"), [(1, 0), (6, 1)])
def test_only_turning_a_photo_upright_holds_it_whole(monkeypatch, orientation, copies):
    """An upright photo streams from the decoder into the full rendition's pixels, and each
    smaller rendition is made from those: no decoded image is copied into memory but the one a
    turn needs (the renditions were each copied, and the turn computed once more for each)."""
    copy_memory, copied = pyvips.Image.copy_memory, []
    monkeypatch.setattr(
        pyvips.Image, "copy_memory", lambda image: copied.append(image) or copy_memory(image)
    )
    data = images.leaky_photo("JPEG", size=(600, 200), orientation=orientation)
    processed = process(data)
    assert len(copied) == copies
    with Image.open(io.BytesIO(processed.full.data)) as full:
        assert full.size == ((600, 200) if orientation == 1 else (200, 600))


def test_a_heif_holding_several_images_is_refused():
    frames = [Image.new("RGB", (64, 64), colour) for colour in ("red", "green")]
    out = io.BytesIO()
    frames[0].save(out, "HEIF", save_all=True, append_images=frames[1:])
    with pytest.raises(UnprocessableImage, match="multi-image"):
        process(out.getvalue())


@pytest.mark.parametrize(
    "loader", ["magickload", "pdfload", "openslideload", "fitsload", "matload", "openexrload"]
)
def test_the_libvips_in_use_has_no_loader_for_complex_formats(loader):
    """pyvips-binary's libvips is built without them; Debian's has them, merely blocked."""
    assert pyvips.type_find("VipsOperation", loader) == 0


def test_without_libvips_the_service_says_what_to_install():
    hide_libvips = "import sys; sys.modules['pyvips'] = None; import service.photos.processing"
    result = subprocess.run(
        [sys.executable, "-c", hide_libvips], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "libvips is missing" in result.stderr and "pyvips-binary" in result.stderr
