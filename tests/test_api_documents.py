"""The public API documents say what the wire does (issue 14): docs/openapi.json is valid
OpenAPI 3.1 with every error documented, and docs/asyncapi.json valid AsyncAPI 3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
import pytest
from openapi_schema_validator import oas31_format_checker
from openapi_spec_validator import validate

from parley_common.openapi import operations

ROOT = Path(__file__).resolve().parents[1]
OPENAPI = json.loads((ROOT / "docs" / "openapi.json").read_text())
ASYNCAPI = json.loads((ROOT / "docs" / "asyncapi.json").read_text())
PUBLIC_PREFIXES = (
    "/auth",
    "/users",
    "/.well-known/jwks.json",
    "/friends",
    "/blocks",
    "/conversations",
    "/messages",
    "/integrations",
    "/notifications",
    "/presence",
    "/attachments",
    "/devices",
    "/health",
)
OPERATIONS = operations(OPENAPI)


def _ecma_regex(pattern: object) -> bool:
    jsonschema_rs.validator_for({"type": "string", "pattern": pattern})  # raises when invalid
    return True


def test_openapi_is_valid_3_1(monkeypatch: pytest.MonkeyPatch) -> None:
    assert OPENAPI["openapi"].startswith("3.1")
    # JSON Schema patterns are ECMA-262 regexes: the username rule uses Unicode property
    # escapes (\p{L}), which Python's re (the validator's default check) does not know.
    monkeypatch.setitem(oas31_format_checker.checkers, "regex", (_ecma_regex, (ValueError,)))
    validate(OPENAPI)


def test_only_public_routes_are_documented() -> None:
    paths = set(OPENAPI["paths"])
    assert all(p.startswith(PUBLIC_PREFIXES) for p in paths), sorted(paths)
    assert not [p for p in paths if p.startswith(("/internal", "/metrics", "/readyz"))]
    # auth, chat, notify and the integration API are all there.
    for path in ("/auth/login", "/friends", "/messages", "/notifications", "/presence"):
        assert path in paths
    assert "/integrations/contexts/{context_type}/{context_id}" in paths
    assert len(OPERATIONS) >= 55


@pytest.mark.parametrize(
    ("path", "method", "operation"), OPERATIONS, ids=[f"{m} {p}" for p, m, _ in OPERATIONS]
)
def test_every_error_has_the_common_shape(
    path: str, method: str, operation: dict[str, Any]
) -> None:
    responses = operation["responses"]
    # 200, or the 202 and 204 of issue 17's account routes (docs/accounts.md).
    assert {"200", "202", "204"} & set(responses)
    errors = {int(s): r for s, r in responses.items() if int(s) >= 400}
    assert 422 in errors
    if path != "/health":
        # The edge: rate limit, broken or missing upstream.
        assert {429, 502, 503} <= set(errors)
    if operation.get("security"):
        assert 401 in errors
    if "requestBody" in operation:
        assert {400, 413} <= set(errors)
    for response in errors.values():
        schema = response["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}
    if 429 in errors:
        assert "Retry-After" in errors[429]["headers"]


def test_security_schemes_tell_users_from_integrations() -> None:
    schemes = OPENAPI["components"]["securitySchemes"]
    assert schemes["BearerJWT"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["BearerJWT"]["description"],
    }
    assert schemes["IntegrationKey"]["scheme"] == "bearer"
    for path, _, operation in OPERATIONS:
        names = {name for requirement in operation.get("security", []) for name in requirement}
        if path.startswith("/integrations"):
            assert names == {"IntegrationKey"}
        elif path == "/users/me/export/{token}":
            assert names == set()  # the emailed link is the credential (docs/accounts.md)
        elif path.startswith(("/auth/me", "/users", "/friends", "/conversations", "/messages")):
            assert names == {"BearerJWT"}


def test_error_schema_has_detail_code_and_retry_after() -> None:
    error = OPENAPI["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"detail", "code", "retry_after"}
    assert set(error["required"]) == {"detail", "code"}


def test_username_rules_are_in_the_schema() -> None:
    register = OPENAPI["components"]["schemas"]["RegisterRequest"]["properties"]
    username = register["username"]
    assert (username["minLength"], username["maxLength"]) == (3, 32)
    assert "\\p{L}" in username["pattern"]
    assert (register["password"]["minLength"], register["password"]["maxLength"]) == (8, 128)


def test_asyncapi_validates_against_the_asyncapi_3_schema() -> None:
    schema = json.loads((ROOT / "tests" / "schemas" / "asyncapi-3.0.0.json").read_text())
    assert ASYNCAPI["asyncapi"] == "3.0.0"
    jsonschema.Draft7Validator(schema).validate(ASYNCAPI)


def test_asyncapi_schema_catches_a_broken_document() -> None:
    """The check above can fail: a document with an operation of no known action is refused."""
    schema = json.loads((ROOT / "tests" / "schemas" / "asyncapi-3.0.0.json").read_text())
    broken = json.loads(json.dumps(ASYNCAPI))
    next(iter(broken["operations"].values()))["action"] = "broadcast"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(broken)
