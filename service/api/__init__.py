"""HTTP resources: one blueprint per resource, each with routes.py and schemas.py."""

from .devices.routes import blp as devices_blp
from .meta.routes import blp as meta_blp
from .ogc.routes import blp as ogc_blp

BLUEPRINTS = (meta_blp, devices_blp, ogc_blp)
