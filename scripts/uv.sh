#!/usr/bin/env bash
# Runs uv, installing it with pip first when this machine has none (make setup uses it).
set -euo pipefail
export UV_PYTHON_DOWNLOADS=never   # use this machine's Python; never fetch one
if command -v uv >/dev/null 2>&1; then exec uv "$@"; fi
if python3 -m uv --version >/dev/null 2>&1; then exec python3 -m uv "$@"; fi
if [ -x "$HOME/.local/bin/uv" ]; then exec "$HOME/.local/bin/uv" "$@"; fi
echo "uv not found: installing it with pip" >&2
python3 -m pip install --quiet uv 2>/dev/null \
  || python3 -m pip install --quiet --user uv 2>/dev/null \
  || python3 -m pip install --quiet --user --break-system-packages uv
if python3 -m uv --version >/dev/null 2>&1; then exec python3 -m uv "$@"; fi
exec "$HOME/.local/bin/uv" "$@"
