"""HTTP resources: one blueprint per resource, each with routes.py and schemas.py."""

from .devices.routes import blp as devices_blp
from .meta.routes import blp as meta_blp
from .tiles.routes import blp as tiles_blp

BLUEPRINTS = (meta_blp, devices_blp, tiles_blp)
