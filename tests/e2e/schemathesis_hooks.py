"""schemathesis hooks of tests/e2e/test_fuzz.py (loaded by SCHEMATHESIS_HOOKS).

Valid emails for positive cases: email-validator (auth) refuses addresses at special-use
domains (RFC 6761: .test, .invalid, .localhost, ...; nothing there receives mail), a rule
JSON Schema's `email` format cannot state, and hypothesis' emails() draws those TLDs too.
Negative cases are unaffected.
"""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.format(
    "email", st.emails(domains=st.sampled_from(["parley.example.com", "mail.example.org"]))
)
