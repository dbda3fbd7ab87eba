"""The committed OpenAPI document is the one the application generates."""

import json

from service.config import PROJECT_DIR

COMMITTED = PROJECT_DIR / "openapi" / "openapi.json"


def test_committed_spec_matches_the_application(app):
    generated = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    committed = json.loads(COMMITTED.read_text())
    assert committed == json.loads(json.dumps(generated)), (
        "openapi/openapi.json is stale: run `make openapi` and commit the result"
    )


def test_every_operation_has_a_summary_and_error_responses(app):
    spec = json.loads(COMMITTED.read_text())
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            errors = [code for code in operation["responses"] if code.startswith(("4", "5"))]
            assert errors or "default" in operation["responses"], f"{method} {path}: no errors"


def test_spec_and_docs_are_served(client):
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200
    assert spec.get_json()["info"]["title"] == "Vigie"
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert b"/api/docs/assets/swagger-ui-bundle.js" in docs.data
    asset = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
