"""`flask backup create|restore`: a restore into a fresh database and store gives back every
device, photo (rows and bytes), account and revision; bad archives are refused, changing nothing.
"""

import hashlib
import io
import json
import os
import tarfile
import uuid

import pytest
from sqlalchemy import inspect, text

from service import create_app
from service.backups.archive import Manifest, write_archive
from service.config import Config
from service.migrate import head_revision
from tests import images
from tests.conftest import create_database, drop_database, storage_settings
from tests.helpers import pin
from tests.images import uploaded

# Every table whose rows a backup must give back, with the order that makes rows comparable.
COMPARED = {
    "users": "id",
    "api_tokens": "id",
    "devices": "id",
    "photos": "id",
    "device_revisions": "id",
    "confirmations": "id",
    "idempotent_requests": "scope, key",
}


def rows(connection, table: str) -> list:
    return connection.execute(text(f"SELECT * FROM {table} ORDER BY {COMPARED[table]}")).all()


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["backup", *args])


@pytest.fixture
def source(app, committed, moderator, as_user):
    """Committed data of every kind: accounts with tokens, public, pending and deleted pins,
    an edit, a vote, photos attached and loose, an idempotent write."""
    contributor = as_user()
    public = pin(moderator, 2.35, 48.85, camera_type="dome", direction=[90, 270])
    pin(contributor, 2.36, 48.86)
    deleted = pin(moderator, 2.37, 48.87)
    moderator.delete(f"/api/v1/devices/{deleted['id']}")
    etag = moderator.get(f"/api/v1/devices/{public['id']}").headers["ETag"]
    edited = moderator.patch(
        f"/api/v1/devices/{public['id']}",
        json={"properties": {"height": 4.5}},
        headers={"If-Match": etag, "Idempotency-Key": "edit-1"},
    )
    assert edited.status_code == 200, edited.get_json()
    uploaded(
        moderator,
        images.plain_photo(colour=(10, 20, 30)),
        url=f"/api/v1/devices/{public['id']}/photos",
    )
    uploaded(contributor, images.plain_photo(colour=(40, 50, 60)))
    vote = contributor.post(
        f"/api/v1/devices/{public['id']}/confirmations", json={"verdict": "still_there"}
    )
    assert vote.status_code == 201, vote.get_json()
    return committed


@pytest.fixture
def fresh_target(tmp_path_factory, request, committed):
    """An app on a new empty database (no tables at all) and an empty photo store of BACKEND."""
    made = []

    def build(backend="local"):
        name = f"vigie_restore_{uuid.uuid4().hex[:12]}"
        made.append(name)
        target = create_app(
            Config(
                DATABASE_URL=create_database(name),
                TESTING=True,
                RATELIMIT_ENABLED=False,
                **storage_settings(backend, tmp_path_factory, request),
            )
        )
        made.append(target)
        return target

    yield build
    for item in made:
        if isinstance(item, str):
            drop_database(item)
        else:
            item.extensions["engine"].dispose()


@pytest.fixture
def archive(app, source, tmp_path):
    path = tmp_path / "vigie.backup"
    result = invoke(app, "create", str(path))
    assert result.exit_code == 0, result.output
    return path


def stored_files(target) -> dict[str, bytes]:
    storage = target.extensions["photo_storage"]
    return {key: storage.read(key) for key in list(storage.keys())}


def photo_files(engine, storage) -> dict[str, bytes]:
    """The bytes of every file the photo rows name, by key."""
    with engine.connect() as connection:
        hashes = connection.execute(
            text("SELECT full_sha256, large_sha256, thumbnail_sha256 FROM photos")
        ).all()
    keys = {f"{sha}.jpg" for row in hashes for sha in row}
    return {key: storage.read(key) for key in keys}


def assert_same_data(source_engine, source_storage, target) -> None:
    target_engine = target.extensions["engine"]
    with source_engine.connect() as before, target_engine.connect() as after:
        for table in COMPARED:
            original = rows(before, table)
            assert original, f"the test data should hold some {table}"
            assert rows(after, table) == original, table
    assert photo_files(target_engine, target.extensions["photo_storage"]) == photo_files(
        source_engine, source_storage
    )


def assert_untouched(target) -> None:
    """A refused restore left the fresh database without a table and the store empty."""
    with target.extensions["engine"].connect() as connection:
        assert inspect(connection).get_table_names() == []
    assert stored_files(target) == {}


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_a_restore_into_a_fresh_database_and_store_gives_everything_back(
    app, source, archive, fresh_target, backend
):
    target = fresh_target(backend)
    result = invoke(target, "restore", str(archive))
    assert result.exit_code == 0, result.output
    assert "restored the backup" in result.output
    assert_same_data(source, app.extensions["photo_storage"], target)
    # The restored database serves the same Features.
    public = app.test_client().get("/api/v1/devices").get_json()["features"]
    restored = target.test_client().get("/api/v1/devices").get_json()["features"]
    assert [f["properties"]["height"] for f in restored] == [4.5]
    assert [f["id"] for f in restored] == [f["id"] for f in public]


def test_a_restored_database_starts_a_data_history_of_its_own(app, source, fresh_target, tmp_path):
    """Its data versions count again from the dump's: a download kept for one of them in the
    history it replaced must not be taken for its own (migration 0040)."""
    lineage = text("SELECT value FROM shared_settings WHERE name = 'data_lineage'")
    with source.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO shared_settings (name, value) VALUES ('data_lineage', 'before') "
                "ON CONFLICT (name) DO UPDATE SET value = 'before'"
            )
        )
    path = tmp_path / "lineage.backup"
    assert invoke(app, "create", str(path)).exit_code == 0
    target = fresh_target()
    assert invoke(target, "restore", str(path)).exit_code == 0
    with target.extensions["engine"].connect() as connection:
        renewed = connection.execute(lineage).scalar_one()
    assert renewed not in ("before", None)
    # A backup of before the token (or one whose row went): the restored database gets one.
    with source.begin() as connection:
        connection.execute(text("DELETE FROM shared_settings WHERE name = 'data_lineage'"))
    older = tmp_path / "older.backup"
    assert invoke(app, "create", str(older)).exit_code == 0
    assert invoke(target, "restore", "--force", str(older)).exit_code == 0
    with target.extensions["engine"].connect() as connection:
        assert connection.execute(lineage).scalar_one() not in (renewed, None)


def test_a_restored_store_backs_up_to_the_same_files(app, archive, fresh_target, tmp_path):
    """Backups read photos through the storage interface: an S3 store backs up like a folder."""
    target = fresh_target("s3")
    assert invoke(target, "restore", str(archive)).exit_code == 0
    again = tmp_path / "again.backup"
    result = invoke(target, "create", str(again))
    assert result.exit_code == 0, result.output
    first, second = manifest_of(archive), manifest_of(again)
    assert second["counts"] == first["counts"]
    photos = {name: sha for name, sha in first["files"].items() if name.startswith("photos/")}
    assert photos and second["files"].items() >= photos.items()
    assert len(second["files"]) == len(first["files"])


def manifest_of(path) -> dict:
    with tarfile.open(path) as tar:
        return json.load(tar.extractfile("manifest.json"))


def test_the_manifest_counts_the_rows_and_hashes_every_file(source, archive):
    manifest = manifest_of(archive)
    assert manifest["format"] == "vigie-backup" and manifest["format_version"] == 1
    assert manifest["alembic_revision"] == head_revision()
    assert manifest["tokens_excluded"] is False
    with source.connect() as connection:
        counted = {
            name: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for name, table in [
                ("devices", "devices"),
                ("photos", "photos"),
                ("accounts", "users"),
                ("revisions", "device_revisions"),
            ]
        }
    assert (
        manifest["counts"] == counted == {"devices": 3, "photos": 2, "accounts": 2, "revisions": 5}
    )
    with tarfile.open(archive) as tar:
        names = set(tar.getnames()) - {"manifest.json"}
        assert names == set(manifest["files"])
        for name in names:
            digest = hashlib.sha256(tar.extractfile(name).read()).hexdigest()
            assert manifest["files"][name] == digest
    assert len([name for name in names if name.startswith("photos/")]) == 6  # 3 renditions each


def test_excluding_tokens_leaves_accounts_but_no_token(app, source, fresh_target, tmp_path):
    path = tmp_path / "no-tokens.backup"
    assert invoke(app, "create", "--exclude-tokens", str(path)).exit_code == 0
    assert manifest_of(path)["tokens_excluded"] is True
    target = fresh_target()
    assert invoke(target, "restore", str(path)).exit_code == 0
    with source.connect() as before, target.extensions["engine"].connect() as after:
        assert rows(after, "users") == rows(before, "users")
        assert rows(after, "api_tokens") == rows(after, "idempotent_requests") == []


def test_an_existing_archive_is_not_overwritten(app, archive):
    before = archive.read_bytes()
    result = invoke(app, "create", str(archive))
    assert result.exit_code == 1 and "exists already" in result.output
    assert archive.read_bytes() == before


def test_a_database_holding_data_is_replaced_only_with_force(app, source, archive, fresh_target):
    target = fresh_target()
    assert invoke(target, "restore", str(archive)).exit_code == 0
    with target.extensions["engine"].begin() as connection:
        connection.execute(text("DELETE FROM confirmations"))
    result = invoke(target, "restore", str(archive))
    assert result.exit_code == 1 and "--force" in result.output and "devices" in result.output
    with target.extensions["engine"].connect() as connection:
        assert rows(connection, "confirmations") == []
    result = invoke(target, "restore", "--force", str(archive))
    assert result.exit_code == 0, result.output
    assert_same_data(source, app.extensions["photo_storage"], target)


def rewrite(archive, out, *, drop=(), replace=None, add=None):
    """A copy of the archive without the members DROP, with members REPLACEd, and ADDed ones."""
    replace = replace or {}
    with tarfile.open(archive) as original, tarfile.open(out, "w") as copy:
        members = {
            member.name: replace.get(member.name) or original.extractfile(member).read()
            for member in original.getmembers()
            if member.name not in drop
        }
        for name, data in (members | (add or {})).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            copy.addfile(info, io.BytesIO(data))
    return out


def with_manifest(archive, out, **changes):
    return rewrite(
        archive, out, replace={"manifest.json": json.dumps(manifest_of(archive) | changes).encode()}
    )


def first_photo(archive) -> str:
    return next(name for name in manifest_of(archive)["files"] if name.startswith("photos/"))


def flipped_byte(archive, out, name):
    """A copy of the archive with one byte of member NAME's content changed, headers intact."""
    data = bytearray(archive.read_bytes())
    with tarfile.open(archive) as tar:
        offset = tar.getmember(name).offset_data + 100
    data[offset] ^= 0xFF
    out.write_bytes(bytes(data))
    return out


def written(out, data: bytes):
    out.write_bytes(data)
    return out


BAD_ARCHIVES = {
    "not an archive": (
        lambda archive, out: written(out, b"\x00garbage" * 100),
        "is not a readable backup archive",
    ),
    "truncated": (
        lambda archive, out: written(out, archive.read_bytes()[:4096]),
        "is not a readable backup archive",
    ),
    "a corrupted photo": (
        lambda archive, out: flipped_byte(archive, out, first_photo(archive)),
        "is corrupted",
    ),
    "a corrupted dump": (
        lambda archive, out: flipped_byte(archive, out, "database.dump"),
        "database.dump is corrupted",
    ),
    "a missing photo": (
        lambda archive, out: rewrite(archive, out, drop={first_photo(archive)}),
        "the archive lacks photos/",
    ),
    "a missing manifest": (
        lambda archive, out: rewrite(archive, out, drop={"manifest.json"}),
        "holds no manifest.json",
    ),
    "an unlisted file": (
        lambda archive, out: rewrite(archive, out, add={"photos/extra.jpg": b"x"}),
        "files its manifest does not list: ['photos/extra.jpg']",
    ),
    "a manifest that is not JSON": (
        lambda archive, out: rewrite(archive, out, replace={"manifest.json": b"{not json"}),
        "the manifest is not JSON",
    ),
    "a manifest listing files as a list": (
        lambda archive, out: with_manifest(archive, out, files=["database.dump"]),
        "the manifest's files: wrong type",
    ),
    "a manifest with a numeric revision": (
        lambda archive, out: with_manifest(archive, out, alembic_revision=11),
        "the manifest's alembic_revision: wrong type",
    ),
    "a newer format": (
        lambda archive, out: with_manifest(archive, out, format_version=2),
        "format version 2",
    ),
    "an unknown schema revision": (
        lambda archive, out: with_manifest(archive, out, alembic_revision="9999_future"),
        "9999_future",
    ),
    "a tampered checksum": (
        lambda archive, out: with_manifest(
            archive, out, files=manifest_of(archive)["files"] | {"database.dump": "0" * 64}
        ),
        "database.dump is corrupted",
    ),
}


@pytest.mark.parametrize("case", BAD_ARCHIVES)
def test_a_bad_archive_is_refused_and_changes_nothing(archive, fresh_target, tmp_path, case):
    spoil, message = BAD_ARCHIVES[case]
    bad = spoil(archive, tmp_path / "bad.backup")
    target = fresh_target()
    result = invoke(target, "restore", str(bad))
    assert result.exit_code == 1, result.output
    assert "Error:" in result.output and message in result.output
    assert "Traceback" not in result.output
    assert_untouched(target)


def test_a_database_without_the_schema_is_not_backed_up(fresh_target, tmp_path):
    path = tmp_path / "nothing.backup"
    result = invoke(fresh_target(), "create", str(path))
    assert result.exit_code == 1 and "has no Vigie schema" in result.output
    assert not path.exists()


def test_an_archive_is_its_owners_alone_from_its_first_byte(tmp_path):
    """It holds password hashes and emails: never readable by others, even while written
    (whatever the umask; a partial file a killed backup left is replaced, not reused)."""
    path = tmp_path / "vigie.backup"
    partial = tmp_path / ".vigie.backup.partial"
    partial.write_bytes(b"left by a killed backup")
    partial.chmod(0o644)
    dump = tmp_path / "dump"
    dump.write_bytes(b"-- a dump")
    modes = []

    def photos():
        modes.append(partial.stat().st_mode & 0o777)
        yield ("a" * 64 + ".jpg", b"jpeg")

    manifest = Manifest("2026-12-05", "x", counts={}, tokens_excluded=False)
    umask = os.umask(0o022)
    try:
        write_archive(path, manifest, dump, photos())
    finally:
        os.umask(umask)
    assert modes == [0o600] and path.stat().st_mode & 0o777 == 0o600
    assert not partial.exists()


def test_counts_that_differ_from_the_manifest_say_the_data_is_restored(
    archive, fresh_target, tmp_path
):
    """The counts can be compared only once pg_restore has committed: the error says so, and
    how to go back, rather than let it pass for a refusal that changed nothing."""
    counts = manifest_of(archive)["counts"]
    bad = with_manifest(archive, tmp_path / "bad.backup", counts=counts | {"devices": 41})
    result = invoke(fresh_target(), "restore", str(bad))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "the archive's data is restored, but its rows" in result.output
    assert "restore another archive over this one (--force)" in result.output
