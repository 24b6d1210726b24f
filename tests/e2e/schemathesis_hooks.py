"""schemathesis hooks of tests/e2e/test_fuzz.py (loaded by SCHEMATHESIS_HOOKS).

Valid emails for positive cases: email-validator (auth) refuses addresses at special-use
domains (RFC 6761: .test, .invalid, .localhost, ...; nothing there receives mail), a rule
JSON Schema's `email` format cannot state, and hypothesis' emails() draws those TLDs too.
Negative cases are unaffected.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.format(
    "email", st.emails(domains=st.sampled_from(["parley.example.com", "mail.example.org"]))
)


@schemathesis.hook
def map_path_parameters(
    ctx: schemathesis.HookContext, path_parameters: dict[str, object]
) -> dict[str, object]:
    """The fuzzer's own login session stays: DELETE /auth/sessions/{id} with the id GET
    /auth/sessions gave it would log it out, and every later call would be a 401."""
    own = os.environ.get("PARLEY_FUZZ_SESSION_ID")
    if (
        path_parameters
        and own
        and str(path_parameters.get("session_id", "")).replace("-", "") == own
    ):
        path_parameters["session_id"] = "00000000-0000-4000-8000-000000000000"
    return path_parameters
