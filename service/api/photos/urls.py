"""Where photo images are served, for the resources that link to them."""

from flask import url_for


def photo_urls_base() -> str:
    """Absolute URL under which `<photo id>/<rendition>` serves each image."""
    return url_for("photos.PhotoUploadViews", _external=True)


def photo_base() -> str:
    """The value of the `photo_base` parameter of device Feature statements."""
    return photo_urls_base().rstrip("/") + "/"
