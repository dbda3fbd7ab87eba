"""The web app's unit tests (node's own test runner, IndexedDB in memory), run with the suite."""

import shutil
import subprocess

from service.web import WEB_DIST

WEB = WEB_DIST.parent


def test_outbox_and_sync_unit_tests_pass():
    node = shutil.which("node")
    assert node, "node is missing: `make test` installs it to build the web app"
    assert (WEB / "node_modules" / "fake-indexeddb").is_dir(), "run `npm ci` in web/"
    run = subprocess.run(
        [node, "--test", "test/"], cwd=WEB, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout
