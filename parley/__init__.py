"""Parley's composition root: run the services in one process or as a stack of processes."""

SERVICES = ("auth", "chat", "notify", "gateway")
DEFAULT_PORTS = {"gateway": 8000, "auth": 8001, "chat": 8002, "notify": 8003}
