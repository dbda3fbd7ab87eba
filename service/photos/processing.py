"""Turn an uploaded image into clean JPEG renditions: decoded, upright, sRGB, no metadata.

libvips decodes JPEG (at a reduced scale straight from the DCT when the photo is far larger
than the renditions), PNG and WebP, and does the colour conversion, the resizing, the turning
upright and the JPEG encoding, streaming the image rather than holding every step of it in
memory. HEIC/HEIF is decoded by libheif (through pillow-heif, whose libheif and HEVC decoder
are newer and faster than the system's) and handed to libvips as pixels.

Nothing of the original survives but its pixels: each rendition is encoded from a fresh image
made of its pixel bytes alone, so EXIF (GPS, serial numbers, maker notes, embedded thumbnails),
XMP, IPTC, comments and ICC profiles are all left behind. The format is told by the bytes
themselves and only its own loader runs: libvips never guesses (SVG, PDF, GIF, TIFF... are
never opened). Refusals raise the service's own errors (415 or 422).
"""

import hashlib
import io
import struct
from dataclasses import dataclass
from functools import cached_property
from typing import BinaryIO

import pillow_heif

from ..errors import UnprocessableImage, UnsupportedMediaType
from ..storage.base import content_key
from .location import CaptureSuggestion, orientation_of, read_capture_suggestion
from .vips import pyvips

OUTPUT_MEDIA_TYPE = "image/jpeg"
# Name, longest side in pixels, JPEG quality: the largest first, each derived from it.
RENDITION_SIZES = (("full", 2560, 85), ("large", 1024, 82), ("thumbnail", 320, 80))
# A JPEG is decoded at 1/2, 1/4 or 1/8 of its size (libjpeg scales while decoding, for a
# fraction of the work) as long as its longest side stays at least this: a 12 MP photo
# (4032 px) gives a full rendition of 2016 px instead of 2560, for a third of the CPU time.
SHRINK_ON_LOAD_MIN = 2000
# ISO base media file brands of HEIF still images (ISO/IEC 23008-12).
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
# Antialiased triangle filter: at these ratios photos look as they do with Lanczos, for less.
KERNEL = "linear"
# What pillow-heif may raise on a damaged file.
HEIF_ERRORS = (OSError, ValueError, EOFError, RuntimeError, IndexError, SyntaxError)
# EXIF orientation -> the turns and flips that make the image upright (EXIF 2.32, 4.6.4).
UPRIGHT = {
    2: ("fliphor",),
    3: ("rot180",),
    4: ("flipver",),
    5: ("rot90", "fliphor"),
    6: ("rot90",),
    7: ("rot270", "fliphor"),
    8: ("rot270",),
}


@dataclass(frozen=True)
class Rendition:
    name: str
    data: bytes
    width: int
    height: int

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def key(self) -> str:
        """The storage key: the content address of the bytes."""
        return content_key(self.sha256)


@dataclass(frozen=True)
class ProcessedPhoto:
    renditions: tuple[Rendition, ...]
    suggestion: CaptureSuggestion

    @property
    def full(self) -> Rendition:
        return self.renditions[0]


@dataclass(frozen=True)
class Original:
    """An upload opened, not yet decoded: its pixels (lazily), EXIF and colour profile."""

    image: "pyvips.Image"
    exif: bytes | None
    icc_profile: bytes | None
    orientation: int


def refuse_unreadable() -> UnprocessableImage:
    """The decoder's own words stay out of the answer: they tell of libvips, not of the photo."""
    return UnprocessableImage(
        "The image is truncated or corrupt and cannot be decoded.", field="file"
    )


def format_of(head: bytes) -> str | None:
    """jpeg, png, webp or heif when the file starts like one, whatever follows; else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return "heif"
    return None


def is_animated_png(data: bytes) -> bool:
    """Whether a PNG announces frames (an APNG's acTL chunk comes before its first IDAT)."""
    at = 8
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind == b"acTL":
            return True
        if kind == b"IDAT":
            return False
        at += 12 + length
    return False


def check_size(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise UnprocessableImage(
            f"The image is {width}x{height} pixels; at most {max_pixels} pixels are accepted "
            "(a small file that decodes to a huge image is refused).",
            field="file",
        )


def refuse_animation() -> UnprocessableImage:
    return UnprocessableImage(
        "Animated and multi-image files are refused: send a single photo.", field="file"
    )


def blob(image: "pyvips.Image", name: str) -> bytes | None:
    return image.get(name) if image.get_typeof(name) != 0 else None


def open_with_vips(kind: str, data: bytes, max_pixels: int) -> Original:
    """The header read and checked before any pixel is decoded; pixels come on demand."""
    load = getattr(pyvips.Image, f"{kind}load_buffer")
    options = {"access": "sequential", "fail_on": "error"}
    header = load(data, **options)
    check_size(header.width, header.height, max_pixels)
    pages = header.get("n-pages") if header.get_typeof("n-pages") != 0 else 1
    if pages > 1 or (kind == "png" and is_animated_png(data)):
        raise refuse_animation()
    image = header
    if kind == "jpeg":
        shrink, longest = 1, max(header.width, header.height)
        shortest = min(header.width, header.height)
        # A narrow strip keeps a pixel across: libvips refuses a side shrunk to none.
        while (
            shrink < 8
            and longest // (2 * shrink) >= SHRINK_ON_LOAD_MIN
            and shortest // (2 * shrink) >= 1
        ):
            shrink *= 2
        if shrink > 1:
            image = load(data, shrink=shrink, **options)
    exif = blob(header, "exif-data")
    return Original(image, exif, blob(header, "icc-profile-data"), orientation_of(exif))


def open_heif(data: bytes, max_pixels: int) -> Original:
    """HEIC/HEIF decoded by libheif, which also turns it upright (its irot/imir properties
    say how; the EXIF orientation is only a copy of them), as libvips pixels."""
    heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
    check_size(*heif.size, max_pixels)
    if len(heif) > 1:
        raise refuse_animation()
    picture = heif[0]
    width, height = picture.size
    bands = len(picture.mode)  # RGB or RGBA (8 bits a band, as asked)
    pixels = picture.data
    if picture.stride != width * bands:  # rows padded for alignment: keep the pixels only
        row = width * bands
        pixels = b"".join(
            bytes(pixels[y * picture.stride : y * picture.stride + row]) for y in range(height)
        )
    image = pyvips.Image.new_from_memory(pixels, width, height, bands, "uchar")
    image = image.copy(interpretation="srgb" if bands >= 3 else "b-w")
    return Original(image, heif.info.get("exif"), heif.info.get("icc_profile"), 1)


def in_srgb(image: "pyvips.Image", icc_profile: bytes | None) -> "pyvips.Image":
    """8-bit sRGB, converted with the embedded profile so that colours survive dropping it,
    with any transparency laid on white."""
    converted = None
    if icc_profile:
        try:
            with_profile = image.copy()
            with_profile.set_type(pyvips.GValue.blob_type, "icc-profile-data", icc_profile)
            converted = with_profile.icc_transform("srgb", embedded=True, depth=8)
        except pyvips.Error:
            converted = None  # an unusable profile: assume sRGB, like browsers do
    if converted is None and image.interpretation == "cmyk":
        # No profile to say which inks: the plain conversion browsers make, not libvips'
        # guess of a printing press.
        colour, black = image[0:3], image[3]
        converted = ((255 - colour) * (255 - black) / 255).cast("uchar")
        converted = converted.copy(interpretation="srgb")
        if image.bands > 4:
            converted = converted.bandjoin(image[4:])
    if converted is None:  # grey and 16-bit pictures too
        converted = image.colourspace("srgb")
    if converted.format != "uchar":
        converted = converted.cast("uchar")
    if converted.hasalpha():
        converted = converted.flatten(background=[255, 255, 255])
    return converted[0:3] if converted.bands > 3 else converted


def resized(image: "pyvips.Image", longest: int) -> "pyvips.Image":
    """The image with its longest side at most LONGEST, its aspect kept (rounded as Pillow's
    thumbnail does)."""
    width, height = image.width, image.height
    if max(width, height) <= longest:
        return image
    if width >= height:
        size = (longest, max(1, round(height * longest / width)))
    else:
        size = (max(1, round(width * longest / height)), longest)
    return image.resize(size[0] / width, vscale=size[1] / height, kernel=KERNEL)


def upright(image: "pyvips.Image", orientation: int) -> "pyvips.Image":
    for operation in UPRIGHT.get(orientation, ()):
        image = getattr(image, operation)()
    return image


def pixels_only(image: "pyvips.Image") -> "pyvips.Image":
    """The image computed once into a fresh one made of its pixel bytes alone: no field, no
    EXIF, no profile left to leak, and what follows reads it from memory."""
    bare = pyvips.Image.new_from_memory(
        image.write_to_memory(), image.width, image.height, 3, "uchar"
    )
    return bare.copy(interpretation="srgb")


def encode(name: str, bare: "pyvips.Image", quality: int) -> Rendition:
    data = bare.jpegsave_buffer(Q=quality, strip=True, optimize_coding=False)
    return Rendition(name, data, bare.width, bare.height)


def process_photo(stream: BinaryIO, *, max_pixels: int) -> ProcessedPhoto:
    """Decode, check, straighten and re-encode an upload into its renditions."""
    data = stream.read()
    kind = format_of(data[:32])
    if kind is None:
        raise UnsupportedMediaType(
            "The file is not a JPEG, PNG, WebP or HEIC image (the content was checked, "
            "not the name or declared type).",
            field="file",
        )
    try:
        if kind == "heif":
            original = open_heif(data, max_pixels)
        else:
            original = open_with_vips(kind, data, max_pixels)
        _, longest, _ = RENDITION_SIZES[0]
        # Decoded, converted and resized in one stream (held whole only to be turned upright),
        # computed once into the full rendition's pixels; each smaller one is made from those
        # of the one before.
        picture = resized(in_srgb(original.image, original.icc_profile), longest)
        if original.orientation in UPRIGHT:
            picture = upright(picture.copy_memory(), original.orientation)
        renditions = []
        for name, size, quality in RENDITION_SIZES:
            picture = pixels_only(resized(picture, size))
            renditions.append(encode(name, picture, quality))
    except pyvips.Error as exc:
        raise refuse_unreadable() from exc
    except HEIF_ERRORS as exc:
        if kind != "heif":
            raise
        raise refuse_unreadable() from exc
    suggestion = read_capture_suggestion(original.exif)
    return ProcessedPhoto(tuple(renditions), suggestion)
