import pytest


@pytest.fixture(autouse=True)
def _with_app(app):
    """Every test here runs in the app's rolled-back transaction (`isolated`)."""
    return app
