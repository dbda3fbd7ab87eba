"""Accounts without identity: register a pseudonym, log in for tokens, see and erase yourself."""

from datetime import UTC, datetime

import orjson
from flask import Response, g
from flask.views import MethodView
from sqlalchemy import LargeBinary, bindparam, delete, select, text
from sqlalchemy.exc import IntegrityError

from ... import auth, idempotency
from ...community import approved_pin_count, is_trusted, recompute_for_account_deletion
from ...db import session
from ...errors import Conflict, NotFound, Unauthorized, ValidationFailed
from ...extensions import Blueprint, requires_json
from ...geo.devices.features import select_user_device_features
from ...geo.photos import select_uploaded_photos
from ...models import ApiToken, Confirmation, DeviceRevision, IdempotentRequest, Photo, User
from ...photos.library import delete_photos
from ...ratelimit import auth_limit, count_wrong_password, login_limit, write_limit
from ...storage import photo_storage
from ...visibility import Viewer
from ..geojson import photo_base
from .schemas import (
    AccountDeletionSchema,
    ExportSchema,
    LoginSchema,
    MeSchema,
    NewTokenSchema,
    PasswordChangeSchema,
    RegisterSchema,
    RoleSchema,
    TokenListSchema,
    UserSchema,
)

blp = Blueprint(
    "accounts",
    __name__,
    url_prefix="/api/v1",
    description="Pseudonymous accounts, bearer tokens and roles.",
)


def me_view(user: User) -> dict:
    approved = approved_pin_count(user)
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "role": user.role,
        "created_at": user.created_at,
        "approved_pins": approved,
        "trusted": is_trusted(user, approved),
    }


@blp.route("/auth/register")
class RegisterViews(MethodView):
    @idempotency.exempt  # a new pseudonym, under its client's address: never stored
    @auth_limit
    @requires_json
    @blp.arguments(RegisterSchema)
    @blp.response(201, UserSchema)
    @blp.problems(409, 415, 429)
    def post(self, form):
        """Create an account; a pseudonym and a password are enough"""
        if auth.username_taken(form["username"]):
            raise Conflict("This username is taken.", field="username")
        user = User(
            username=form["username"],
            email=form.get("email"),
            password_hash=auth.passwords.hash(form["password"]),
        )
        session.add(user)
        try:
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            raise Conflict("This username is taken.", field="username") from exc
        return user


@blp.route("/auth/tokens")
class TokenViews(MethodView):
    @idempotency.exempt  # its answer is a bearer token: never stored
    @auth_limit
    @login_limit
    @requires_json
    @blp.arguments(LoginSchema)
    @blp.response(201, NewTokenSchema)
    @blp.problems(401, 415, 429)
    def post(self, form):
        """Log in: exchange a username and password for a bearer token"""
        user = auth.find_user(form["username"])
        if not auth.check_password(user, form["password"]):
            count_wrong_password()
            raise Unauthorized("Wrong username or password.", field="password")
        token, plain = auth.issue_token(user, form.get("name"), form.get("lifetime_days"))
        session.commit()
        return {
            "token": plain,
            "id": token.id,
            "name": token.name,
            "created_at": token.created_at,
            "expires_at": token.expires_at,
            "user": user,
        }

    @blp.auth()
    @blp.response(200, TokenListSchema)
    def get(self):
        """List your tokens (their values are never shown again)"""
        tokens = session.scalars(
            select(ApiToken).where(ApiToken.user_id == g.user.id).order_by(ApiToken.created_at)
        ).all()
        return {"tokens": tokens}

    @blp.auth()
    @write_limit
    @blp.response(204)
    def delete(self):
        """Sign out everywhere: revoke every token of yours, this one included"""
        auth.revoke_tokens(g.user)
        session.commit()
        return Response(status=204)


@blp.route("/auth/tokens/<uuid:token_id>")
class TokenByIdViews(MethodView):
    @blp.auth()
    @write_limit
    @blp.response(204)
    @blp.problems(404)
    def delete(self, token_id):
        """Revoke one of your tokens"""
        token = session.get(ApiToken, token_id)
        if token is None or token.user_id != g.user.id:
            raise NotFound(f"You have no token {token_id}.", field="token_id")
        token.revoked_at = token.revoked_at or datetime.now(UTC)
        session.commit()
        return Response(status=204)


@blp.route("/me")
class MeViews(MethodView):
    @blp.auth()
    @blp.response(200, MeSchema)
    def get(self):
        """Show your account"""
        return me_view(g.user)

    @idempotency.exempt  # nothing of a deleted account is kept; its body holds a password
    @auth_limit
    @blp.auth()
    @login_limit
    @write_limit
    @requires_json
    @blp.arguments(AccountDeletionSchema)
    @blp.response(204)
    @blp.problems(409, 415, 422, 429)
    def delete(self, form):
        """Delete your account, its password asked again

        Your pins and votes stay, under an anonymous author; the photos you never attached go
        with the account.
        """
        user = g.user
        if not auth.check_password(user, form["password"]):
            count_wrong_password()  # a stolen token must not guess it freely either
            raise ValidationFailed("The password is wrong.", field="password")
        auth.keep_an_admin(user)
        auth.reserve_username(user.username)
        session.execute(delete(IdempotentRequest).where(IdempotentRequest.scope == str(user.id)))
        # And the answers kept for others that name it (an admin's change of its role, its
        # registration, kept under its address's key): the name was left there in clear.
        named = b'"username":' + orjson.dumps(user.username)
        session.execute(
            delete(IdempotentRequest).where(
                text("position(:named in idempotent_requests.body) > 0").bindparams(
                    bindparam("named", named, type_=LargeBinary)
                )
            )
        )
        # Uploads never attached were shared with nobody: they go now, not at the next
        # clean-orphans run. Locked as a device's save would lock them.
        loose = session.scalars(
            select(Photo)
            .where(Photo.uploaded_by == user.id, Photo.device_id.is_(None))
            .with_for_update()
        ).all()
        recompute_levels = recompute_for_account_deletion(user.id)
        session.delete(user)
        session.flush()
        recompute_levels()
        delete_photos(photo_storage(), loose)  # commits
        return Response(status=204)


@blp.route("/me/password")
class PasswordViews(MethodView):
    # Kept (a 204), its passwords left out of the fingerprint: a change whose answer was lost,
    # sent again with its key, is told it was made, not that the old password is now wrong.
    @idempotency.body_unread
    @auth_limit
    @blp.auth()
    @login_limit
    @requires_json
    @blp.arguments(PasswordChangeSchema)
    @blp.response(204)
    @blp.problems(415, 422, 429)
    def put(self, form):
        """Change your password; every other token of yours is revoked"""
        user = g.user
        if not auth.check_password(user, form["current_password"]):
            count_wrong_password()
            raise ValidationFailed("The current password is wrong.", field="current_password")
        weakness = auth.weak_password_reason(form["new_password"], user.username, user.email)
        if weakness:
            raise ValidationFailed(weakness, field="new_password")
        auth.set_password(user, form["new_password"], keep_token=g.token_id)
        session.commit()
        return Response(status=204)


@blp.route("/me/export")
class ExportViews(MethodView):
    @blp.auth()
    @blp.response(200, ExportSchema)
    def get(self):
        """Download everything stored about you"""
        user = g.user
        tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
        devices = session.scalars(
            select_user_device_features(user.id), {"photo_base": photo_base()}
        ).all()
        revisions = session.scalars(
            select(DeviceRevision)
            .where(DeviceRevision.author_id == user.id)
            .order_by(DeviceRevision.id)
        ).all()
        photos = session.execute(select_uploaded_photos(Viewer.of(user))).all()
        confirmations = session.scalars(
            select(Confirmation)
            .where(Confirmation.user_id == user.id)
            .order_by(Confirmation.created_at)
        ).all()
        return {
            "user": me_view(user),
            "tokens": tokens,
            "devices": [orjson.loads(text) for text in devices],
            # Revision ids count every change of every device: a clock of others' changes,
            # given to moderators only (as in histories), who revert by them.
            "revisions": [
                {
                    **({"id": r.id} if user.is_moderator else {}),
                    "device_id": str(r.device_id),
                    "action": r.action,
                    "changes": r.changes,
                    "created_at": r.created_at.isoformat(),
                }
                for r in revisions
            ],
            "photos": [
                {
                    "id": str(p.Photo.id),
                    "device_id": str(p.Photo.device_id) if p.Photo.device_id else None,
                    "width": p.Photo.width,
                    "height": p.Photo.height,
                    "created_at": p.Photo.created_at.isoformat(),
                    # Where its pin is on the map for its uploader, to find it by.
                    "pin": {"kind": p.pin_kind, "coordinates": [p.pin_lon, p.pin_lat]}
                    if p.pin_kind
                    else None,
                }
                for p in photos
            ],
            "confirmations": [
                {
                    "id": str(c.id),
                    "device_id": str(c.device_id),
                    "verdict": c.verdict,
                    "comment": c.comment,
                    "created_at": c.created_at.isoformat(),
                }
                for c in confirmations
            ],
        }


@blp.route("/users/<string:username>/role")
class RoleViews(MethodView):
    @blp.auth(role="admin")
    @write_limit
    @requires_json
    @blp.arguments(RoleSchema)
    @blp.response(200, UserSchema)
    @blp.problems(404, 409, 415)
    def put(self, form, username):
        """Grant a role (contributor, moderator, admin) to a user; the last admin stays one"""
        user = auth.find_user(username)
        if user is None:
            raise NotFound(f"No user is called {username}.", field="username")
        if form["role"] != "admin":
            auth.keep_an_admin(user)
        user.role = form["role"]
        session.commit()
        return user
