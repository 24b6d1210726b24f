#!/usr/bin/env bash
# mypy --strict (config: pyproject.toml) over the production packages and every test root;
# `make lint` and pre-commit both run this, so the two lists cannot drift apart.
#
# One run per test root: mypy_path makes libs/common, services/chat, ... package roots (so
# production modules have their installed names, `chat`, not `services.chat.chat`), which makes
# every libs/*/tests and services/*/tests directory the top-level package `tests` to mypy, each
# with its own `tests.conftest`. In one run those are duplicate modules; run alone, each root
# is checked with the names its relative imports (`from .conftest import ...`) use, the same
# way pytest's --import-mode=importlib imports them. The top-level tests/ has no such clash.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

PACKAGES=(libs/common/parley_common libs/client/parley_client services/auth/auth
  services/chat/chat services/notify/notify services/gateway/gateway parley tests)
TEST_ROOTS=(libs/common/tests libs/client/tests services/auth/tests services/chat/tests
  services/notify/tests services/gateway/tests)

"$PY" -m mypy "${PACKAGES[@]}"
for root in "${TEST_ROOTS[@]}"; do
  "$PY" -m mypy "$root"
done
