"""HTTP resources: one blueprint per resource, each with routes.py and schemas.py."""

from .accounts.routes import blp as accounts_blp
from .community.routes import blp as community_blp
from .declared.routes import blp as declared_blp
from .devices.routes import blp as devices_blp
from .districts.routes import blp as districts_blp
from .meta.routes import blp as meta_blp
from .moderation.routes import blp as moderation_blp
from .ogc.routes import blp as ogc_blp
from .photos.routes import blp as photos_blp
from .statistics.routes import blp as statistics_blp
from .sync.routes import blp as sync_blp
from .tiles.routes import blp as tiles_blp
from .view_cones.routes import blp as view_cones_blp

BLUEPRINTS = (
    meta_blp,
    accounts_blp,
    devices_blp,
    photos_blp,
    community_blp,
    moderation_blp,
    sync_blp,
    districts_blp,
    statistics_blp,
    declared_blp,
    view_cones_blp,
    ogc_blp,
    tiles_blp,
)
