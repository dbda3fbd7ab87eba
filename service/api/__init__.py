"""HTTP resources: one blueprint per resource, each with routes.py and schemas.py."""

from .accounts.routes import blp as accounts_blp
from .community.routes import blp as community_blp
from .devices.routes import blp as devices_blp
from .meta.routes import blp as meta_blp
from .moderation.routes import blp as moderation_blp
from .sync.routes import blp as sync_blp

BLUEPRINTS = (meta_blp, accounts_blp, devices_blp, community_blp, moderation_blp, sync_blp)
