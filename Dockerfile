# syntax=docker/dockerfile:1
# One image for every Parley service; the command picks the service:
#   uvicorn <auth|chat|notify|gateway>.main:create_app --factory --host 0.0.0.0 --port <port> --no-proxy-headers
#   python -m parley.migrate <service>
# Default: the gateway on :8000.

FROM python:3.11-slim AS builder
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir uv
WORKDIR /app

# Third-party dependencies first, from the lock file and the workspace's pyproject files only,
# so a code change does not reinstall them.
COPY pyproject.toml uv.lock ./
COPY libs/common/pyproject.toml libs/common/
COPY libs/client/pyproject.toml libs/client/
COPY services/auth/pyproject.toml services/auth/
COPY services/chat/pyproject.toml services/chat/
COPY services/notify/pyproject.toml services/notify/
COPY services/gateway/pyproject.toml services/gateway/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages --no-install-workspace

# Then the workspace itself. Workspace members stay editable (pointing into /app), so code that
# finds its files next to the sources (migrations, the web client) works as in a checkout.
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages
# uv compiles what it installs (UV_COMPILE_BYTECODE), not the editable workspace: with
# PYTHONDONTWRITEBYTECODE and a read-only root filesystem every start would compile it again.
RUN .venv/bin/python -m compileall -q services libs parley


FROM python:3.11-slim AS runtime
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PARLEY_ENVIRONMENT=production
# production by default: settings then refuse placeholder secrets (compose sets development).
RUN groupadd --system --gid 10001 parley \
    && useradd --system --uid 10001 --gid parley --home-dir /app --shell /usr/sbin/nologin parley
WORKDIR /app
COPY --from=builder --chown=root:root /app /app
# var/ is the only place a service writes (embedded defaults: SQLite files, mail as .eml).
RUN mkdir -p /app/var && chown parley:parley /app/var
USER 10001:10001

EXPOSE 8000 8001 8002 8003
# Probes the port the uvicorn in PID 1 listens on, so it fits every service's command.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "/app/deploy/docker/healthcheck.py"]
# --no-proxy-headers: the client address is the TCP peer unless PARLEY_TRUSTED_PROXIES says
# otherwise (uvicorn's own X-Forwarded-For handling would trust any local peer).
CMD ["uvicorn", "gateway.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", "--no-proxy-headers", "--ws", "gateway.ws.protocol:ParleyWebSocketProtocol", "--ws-per-message-deflate", "false", "--ws-max-size", "65536"]
