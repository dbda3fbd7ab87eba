"""Photos made by the tests, carrying everything a phone would leak: GPS, time, serial number,
XMP, IPTC, comments, maker notes, an ICC profile. Each secret is also a byte string to search for.
"""

import io
import struct
import urllib.request
import zlib

import pillow_heif
from PIL import ExifTags, Image, ImageCms
from PIL.PngImagePlugin import PngInfo

pillow_heif.register_heif_opener()

# 48°51'30.24"N 2°17'40.20"E, near the Eiffel Tower
LAT_DEG = 48 + 51 / 60 + 30.24 / 3600
LON_DEG = 2 + 17 / 60 + 40.20 / 3600
ACCURACY_M = 4.5
TAKEN_LOCAL, TAKEN_OFFSET = "2026:11:01 10:30:00", "+01:00"
TAKEN_UTC = "2026-11-01T09:30:00"
SERIAL = "SN-VIGIE-0042-SECRET"
OWNER = "Camille Activist"
MAKER_NOTE = b"VIGIE-MAKERNOTE-SECRET"
COMMENT = "VIGIE-COMMENT-SECRET"
XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    'syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    'exif:GPSLatitude="48,51.504N" exif:GPSLongitude="2,17.67E" '
    f'exif:BodySerialNumber="{SERIAL}-XMP"/></rdf:RDF></x:xmpmeta>'
).encode()
IPTC_BYLINE = b"VIGIE-IPTC-BYLINE-SECRET"

# Byte strings that must be absent from every served image (each is present in the originals
# of the formats that can carry it; tests check that too, so the search is not vacuous).
SECRETS = (
    SERIAL.encode(),
    OWNER.encode(),
    MAKER_NOTE,
    COMMENT.encode(),
    b"48,51.504N",
    b"x:xmpmeta",
    IPTC_BYLINE,
    b"Exif\x00\x00",
    b"8BIM",
)
# Latitude and longitude degrees/minutes as EXIF rationals, in either byte order.
GPS_NEEDLES = tuple(
    struct.pack(f"{order}4L", degrees, 1, minutes, 1)
    for degrees, minutes in ((48, 51), (2, 17))
    for order in (">", "<")
)

FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heic"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "HEIF": "heic"}


def leaky_exif(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "VigiePhone"
    exif[ExifTags.Base.Artist] = OWNER
    exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    exif_ifd[ExifTags.Base.BodySerialNumber] = SERIAL
    exif_ifd[ExifTags.Base.DateTimeOriginal] = TAKEN_LOCAL
    exif_ifd[ExifTags.Base.OffsetTimeOriginal] = TAKEN_OFFSET
    exif_ifd[ExifTags.Base.MakerNote] = MAKER_NOTE
    exif_ifd[ExifTags.Base.UserComment] = b"ASCII\x00\x00\x00" + COMMENT.encode()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 30.24)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.2)
    gps[ExifTags.GPS.GPSHPositioningError] = ACCURACY_M
    return exif


def two_colour_picture(size=(600, 200)) -> Image.Image:
    """Blue on the left third, red elsewhere: where blue ends up tells the orientation."""
    picture = Image.new("RGB", size, (220, 20, 20))
    picture.paste((20, 20, 220), (0, 0, size[0] // 3, size[1]))
    return picture


def iptc_segment() -> bytes:
    """An APP13 Photoshop segment with an IPTC by-line (2:80), as cameras and editors write."""
    dataset = b"\x1c\x02\x50" + struct.pack(">H", len(IPTC_BYLINE)) + IPTC_BYLINE
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(dataset))
    resource += dataset + (b"\x00" if len(dataset) % 2 else b"")
    payload = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload


def leaky_photo(fmt: str, size=(600, 200), orientation: int = 6) -> bytes:
    """An image in fmt with every kind of metadata that format can carry."""
    picture = two_colour_picture(size)
    exif = leaky_exif(orientation).tobytes()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    if fmt == "JPEG":
        picture.save(out, "JPEG", exif=exif, xmp=XMP, comment=COMMENT, icc_profile=icc)
        data = out.getvalue()
        return data[:2] + iptc_segment() + data[2:]
    if fmt == "PNG":
        text = PngInfo()
        text.add_itxt("XML:com.adobe.xmp", XMP.decode())
        text.add_text("Comment", COMMENT)
        iptc_hex = (b"8BIM" + IPTC_BYLINE).hex()
        text.add_text(
            "Raw profile type iptc", f"\niptc\n{len(iptc_hex) // 2}\n{iptc_hex}\n", zip=True
        )
        picture.save(out, "PNG", exif=exif, pnginfo=text, icc_profile=icc)
    elif fmt == "WEBP":
        picture.save(out, "WEBP", exif=exif, xmp=XMP, icc_profile=icc, quality=90)
    else:
        picture.save(out, "HEIF", exif=exif, xmp=XMP, quality=90)
    return out.getvalue()


def plain_photo(fmt: str = "JPEG", size=(600, 200), colour=(30, 120, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (64, 64), colour) for colour in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header announces a huge image (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def jpeg_segments(data: bytes) -> list[int]:
    """The marker of every segment before the scan, read independently of any image library."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    markers, at = [], 2
    while at < len(data):
        assert data[at] == 0xFF
        marker = data[at + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        at += 2 + length
    return markers


def upload(client, data: bytes, *, filename="photo.jpg", mimetype="image/jpeg", url=None, **kw):
    return client.post(
        url or "/api/v1/photos",
        data={"file": (io.BytesIO(data), filename, mimetype)},
        content_type="multipart/form-data",
        **kw,
    )


def uploaded(client, data: bytes, **kw) -> dict:
    response = upload(client, data, **kw)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def fetch(client, url: str):
    """GET an image URL, following a presigned redirect to the object store."""
    response = client.get(url)
    if response.status_code == 302:
        with urllib.request.urlopen(response.headers["Location"], timeout=10) as direct:
            return response, direct.read()
    return response, response.data
