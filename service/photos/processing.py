"""Turn an uploaded image into clean JPEG renditions: decoded, upright, sRGB, no metadata.

Nothing of the original survives but its pixels: the renditions are encoded from a fresh image,
so EXIF (GPS, serial numbers, maker notes, embedded thumbnails), XMP, IPTC, comments and ICC
profiles are all left behind. Refusals raise the service's own errors (415 or 422).
"""

import hashlib
import io
from dataclasses import dataclass
from functools import cached_property
from typing import BinaryIO

import pillow_heif
from PIL import ExifTags, Image, ImageCms, UnidentifiedImageError

from ..errors import UnprocessableImage, UnsupportedMediaType
from ..storage.base import content_key
from .location import EXIF_ERRORS, CaptureSuggestion, read_capture_suggestion

pillow_heif.register_heif_opener()

# Formats decoded: what phones and browsers produce. SVG, GIF, TIFF... are never opened.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
# ISO base media file brands of HEIF still images (ISO/IEC 23008-12).
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
OUTPUT_MEDIA_TYPE = "image/jpeg"
# Name, longest side in pixels, JPEG quality: the largest first, each derived from it.
RENDITION_SIZES = (("full", 2560, 85), ("large", 1024, 82), ("thumbnail", 320, 80))
# Pillow's resampling filters are antialiased convolutions: at these ratios (at most 4:1 per
# step) bilinear looks close to bicubic and Lanczos for a photo, and costs less; resizing is most
# of an upload's CPU time (bilinear took the 12 MP JPEG p50 from 433 to 391 ms here).
RESAMPLING = Image.Resampling.BILINEAR
# What the decoders may raise on a damaged file.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, RuntimeError, IndexError)
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
# EXIF orientation -> the transpositions that make the image upright (EXIF 2.32, 4.6.4).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
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


def refuse_unreadable(exc: Exception) -> UnprocessableImage:
    return UnprocessableImage(
        "The image is truncated or corrupt and cannot be decoded.", field="file", reason=str(exc)
    )


def has_accepted_signature(stream: BinaryIO) -> bool:
    """Whether the file starts like a JPEG, PNG, WebP or HEIF, whatever follows."""
    head = stream.read(32)
    stream.seek(0)
    return (
        head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"))
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
        or (head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS)
    )


def open_image(stream: BinaryIO, max_pixels: int) -> Image.Image:
    """Identify the format from the bytes themselves and refuse what will not be processed."""
    try:
        image = Image.open(stream, formats=ACCEPTED_FORMATS)
    except UnidentifiedImageError as exc:
        if has_accepted_signature(stream):
            raise refuse_unreadable(exc) from exc
        raise UnsupportedMediaType(
            "The file is not a JPEG, PNG, WebP or HEIC image (the content was checked, "
            "not the name or declared type).",
            field="file",
        ) from exc
    except Image.DecompressionBombError as exc:
        raise UnprocessableImage(str(exc), field="file") from exc
    except DECODE_ERRORS as exc:
        raise refuse_unreadable(exc) from exc
    try:
        pixels = image.width * image.height
        if pixels > max_pixels:
            raise UnprocessableImage(
                f"The image is {image.width}x{image.height} pixels; at most {max_pixels} pixels "
                "are accepted (a small file that decodes to a huge image is refused).",
                field="file",
            )
        if getattr(image, "is_animated", False) or getattr(image, "n_frames", 1) > 1:
            raise UnprocessableImage(
                "Animated and multi-image files are refused: send a single photo.", field="file"
            )
    except BaseException:
        image.close()
        raise
    return image


def orientation_of(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(ExifTags.Base.Orientation, 1))
    except EXIF_ERRORS:
        return 1


def flattened(image: Image.Image) -> Image.Image:
    """RGB (or CMYK/L left for colour management) with any transparency laid on white."""
    if image.mode in ("RGB", "CMYK", "L"):
        return image
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode.startswith("I"):  # 16-bit PNG greyscale: scale down to 8 bits
        return image.point(lambda value: value / 256).convert("L")
    return image.convert("RGB")


def in_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """Convert to sRGB with the embedded profile, so colours survive dropping the profile."""
    if icc_profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            return ImageCms.profileToProfile(image, source, SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an unusable profile: assume sRGB, like browsers do
    return image.convert("RGB")


def upright(image: Image.Image, orientation: int) -> Image.Image:
    method = UPRIGHT.get(orientation)
    return image.transpose(method) if method is not None else image


def encode(name: str, image: Image.Image, quality: int) -> Rendition:
    # A fresh image carries pixels only: no info dict, no EXIF, no profile to leak.
    bare = Image.new("RGB", image.size)
    bare.paste(image)
    out = io.BytesIO()
    bare.save(out, "JPEG", quality=quality, optimize=False)
    return Rendition(name, out.getvalue(), bare.width, bare.height)


def process_photo(stream: BinaryIO, *, max_pixels: int) -> ProcessedPhoto:
    """Decode, check, straighten and re-encode an upload into its renditions."""
    _, longest, _ = RENDITION_SIZES[0]
    with open_image(stream, max_pixels) as image:
        try:
            # JPEG decodes straight at a reduced scale when it is far larger than needed.
            image.draft("RGB", (longest, longest))
            # Decode before reading EXIF: PNG looks for it past the pixels, and a failure
            # there must refuse the file, not leave it half-decoded.
            image.load()
        except Image.DecompressionBombError as exc:
            raise UnprocessableImage(str(exc), field="file") from exc
        except DECODE_ERRORS as exc:
            raise refuse_unreadable(exc) from exc
        suggestion = read_capture_suggestion(image)
        orientation = orientation_of(image)
        icc_profile = image.info.get("icc_profile")
        picture = flattened(image)
        picture.thumbnail((longest, longest), RESAMPLING)
        picture = upright(in_srgb(picture, icc_profile), orientation)
    renditions = []
    for name, size, quality in RENDITION_SIZES:
        picture.thumbnail((size, size), RESAMPLING)
        renditions.append(encode(name, picture, quality))
    return ProcessedPhoto(tuple(renditions), suggestion)
