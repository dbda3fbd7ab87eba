"""HTTP resources: one blueprint per resource, each with routes.py and schemas.py."""

from .devices.routes import blp as devices_blp
from .districts.routes import blp as districts_blp
from .meta.routes import blp as meta_blp
from .stats.routes import blp as stats_blp
from .views.routes import blp as views_blp

BLUEPRINTS = (meta_blp, devices_blp, districts_blp, stats_blp, views_blp)
