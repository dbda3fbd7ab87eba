"""HTTP resources: one blueprint per resource, each with routes.py and schemas.py."""

from .devices.routes import blp as devices_blp
from .meta.routes import blp as meta_blp
from .photos.routes import blp as photos_blp

BLUEPRINTS = (meta_blp, devices_blp, photos_blp)
