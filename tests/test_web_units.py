"""The web app's unit tests (node's own test runner, IndexedDB in memory), run with the suite."""

import json
import shutil
import subprocess

from service import vocabulary as vocab
from service.models import Device
from service.web import WEB_DIST

WEB = WEB_DIST.parent


def node() -> str:
    found = shutil.which("node")
    assert found, "node is missing: `make test` installs it to build the web app"
    return found


def test_outbox_and_sync_unit_tests_pass():
    assert (WEB / "node_modules" / "fake-indexeddb").is_dir(), "run `npm ci` in web/"
    run = subprocess.run(
        [node(), "--test", "test/"], cwd=WEB, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout


def test_the_app_offers_the_values_the_server_takes():
    """Forms are filled in offline: a value the app offers and the server refuses would wait in
    the outbox as a refusal, one it misses could not be chosen on a phone."""
    script = (
        "import('./src/vocabulary.js').then((m) => console.log(JSON.stringify("
        "{ ...m, CAMERA_KINDS: [...m.CAMERA_KINDS] })))"
    )
    run = subprocess.run(
        [node(), "--input-type=module", "-e", script], cwd=WEB, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    app = json.loads(run.stdout)
    assert app["KINDS"] == list(vocab.KIND_NAMES)
    assert app["CAMERA_KINDS"] == list(vocab.CAMERA_KINDS)
    assert app["VISIBLE_PATTERN"] == vocab.VISIBLE.pattern

    assert app["VOCABULARY"] == {
        "camera_type": list(vocab.CAMERA_TYPES),
        "mount": list(vocab.MOUNTS),
        "operator_type": list(vocab.OPERATOR_TYPES),
        "zone": list(vocab.ZONES),
        "surveillance": list(vocab.SURVEILLANCE_AREAS),
    }
    # A field the server never leaves empty is offered without "—", with its default.
    columns = Device.__table__.columns
    assert app["DEFAULTS"] == {
        name: columns[name].server_default.arg
        for name in app["VOCABULARY"]
        if not columns[name].nullable
    }


def test_the_app_and_the_server_see_the_same_characters_as_showing_nothing():
    """The same pattern text, read by two engines whose \\s differ: compared by what it
    matches, every character of the Basic Multilingual Plane, so that text the app sends as
    written is not refused by the server (left refused in the outbox), or the reverse."""
    script = (
        "import('./src/vocabulary.js').then((m) => { const visible = new RegExp(m.VISIBLE_PATTERN,"
        " 'u'); const blank = []; for (let c = 0; c < 0x10000; c += 1) if (!visible.test("
        "String.fromCharCode(c))) blank.push(c); console.log(JSON.stringify(blank)); })"
    )
    run = subprocess.run(
        [node(), "--input-type=module", "-e", script], cwd=WEB, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    server = [c for c in range(0x10000) if not vocab.VISIBLE.search(chr(c))]
    assert json.loads(run.stdout) == server
