"""deploy/compose.yml: valid for docker-compose, and consistent with the services it runs."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from parley.secrets_env import NAMES as SECRET_NAMES
from parley.secrets_env import read_env, write_secrets

from .deploy_support import DEPLOY, PORTS, REPO, load_settings, run, tool, unknown_parley_settings

COMPOSE_FILE = DEPLOY / "compose.yml"
MIGRATIONS = {"auth-migrate": "auth", "chat-migrate": "chat", "notify-migrate": "notify"}
SERVICES = {"auth": "auth", "chat": "chat", "notify": "notify"}
GATEWAYS = {"gateway-1": "gateway", "gateway-2": "gateway"}
PARLEY_CONTAINERS = {**MIGRATIONS, **SERVICES, **GATEWAYS}


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `make secrets` writes (deploy/.env), in a file of this test run."""
    path = tmp_path_factory.mktemp("compose") / ".env"
    write_secrets(path)
    return path


@pytest.fixture(scope="module")
def compose(env_file: Path) -> dict[str, Any]:
    """The file as docker-compose resolves it (anchors, merges and ${VARS} applied)."""
    docker_compose = tool("docker-compose")
    base = [docker_compose, "--env-file", str(env_file), "-f", str(COMPOSE_FILE)]
    run([*base, "config", "-q"])
    resolved = run([*base, "config"])
    data: dict[str, Any] = yaml.safe_load(resolved)
    return data


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # KEY=VALUE form
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


class TestComposeFile:
    def test_validates(self, compose: dict[str, Any]) -> None:
        assert set(compose["services"]) >= {
            "postgres",
            "rabbitmq",
            "redis",
            "mailpit",
            "minio",
            *PARLEY_CONTAINERS,
            "proxy",
            "prometheus",
            "grafana",
        }

    def test_no_top_level_keys_compose_1_29_rejects(self) -> None:
        raw = yaml.safe_load(COMPOSE_FILE.read_text())
        assert "name" not in raw and "version" not in raw

    def test_every_long_running_service_has_a_health_check(self, compose: dict[str, Any]) -> None:
        for name, service in compose["services"].items():
            check = service.get("healthcheck") or {}
            if name in MIGRATIONS:
                continue
            assert check.get("test") and not check.get("disable"), f"{name} has no health check"


class TestSecrets:
    def test_compose_refuses_to_run_without_generated_secrets(self, tmp_path: Path) -> None:
        empty = tmp_path / ".env"
        empty.write_text("")
        proc = subprocess.run(
            [tool("docker-compose"), "--env-file", str(empty), "-f", str(COMPOSE_FILE), "config"],
            capture_output=True,
            text=True,
            timeout=120,
            env={k: v for k, v in os.environ.items() if k not in SECRET_NAMES},
        )
        assert proc.returncode != 0 and "make secrets" in proc.stdout + proc.stderr

    def test_services_run_in_production_with_the_generated_secrets(
        self, compose: dict[str, Any], env_file: Path
    ) -> None:
        generated = read_env(env_file)
        for name in {**SERVICES, **GATEWAYS}:
            env = _environment(compose["services"][name])
            assert env["PARLEY_ENVIRONMENT"] == "production"
            assert env["PARLEY_INTERNAL_TOKEN"] == generated["PARLEY_INTERNAL_TOKEN"]
        notify = _environment(compose["services"]["notify"])
        assert notify["PARLEY_UNSUBSCRIBE_SECRET"] == generated["PARLEY_UNSUBSCRIBE_SECRET"]
        chat = _environment(compose["services"]["chat"])
        storage_key = generated["PARLEY_STORAGE_SECRET_ACCESS_KEY"]
        assert chat["PARLEY_STORAGE_SECRET_ACCESS_KEY"] == storage_key
        minio = _environment(compose["services"]["minio"])
        assert minio["MINIO_ROOT_PASSWORD"] == storage_key

    def test_make_secrets_keeps_existing_values_and_git_ignores_the_file(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / ".env"
        path.write_text("PARLEY_INTERNAL_TOKEN=" + "k" * 40 + "\n")
        assert write_secrets(path) == [
            "PARLEY_UNSUBSCRIBE_SECRET",
            "PARLEY_KEY_ENCRYPTION_KEY",
            "GRAFANA_ADMIN_PASSWORD",
            "PARLEY_STORAGE_SECRET_ACCESS_KEY",
        ]
        values = read_env(path)
        assert values["PARLEY_INTERNAL_TOKEN"] == "k" * 40
        assert len(values["PARLEY_UNSUBSCRIBE_SECRET"]) >= 32
        assert write_secrets(path) == [] and read_env(path) == values
        assert path.stat().st_mode & 0o077 == 0
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", str(DEPLOY / ".env")], cwd=REPO, timeout=30
        )
        assert ignored.returncode == 0


class TestParleyServices:
    @pytest.mark.parametrize("name", sorted(PARLEY_CONTAINERS))
    def test_environment_names_only_real_settings(self, compose: dict[str, Any], name: str) -> None:
        env = _environment(compose["services"][name])
        assert env, f"{name} has no environment"
        assert not unknown_parley_settings(PARLEY_CONTAINERS[name], set(env)), (
            f"{name}: not settings of {PARLEY_CONTAINERS[name]}.config.Settings"
        )

    @pytest.mark.parametrize("name", sorted(PARLEY_CONTAINERS))
    def test_environment_values_load(
        self, compose: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        env = _environment(compose["services"][name])
        parley_env = {k: v for k, v in env.items() if k.startswith("PARLEY_")}
        settings = load_settings(PARLEY_CONTAINERS[name], parley_env, monkeypatch)
        if name not in MIGRATIONS:
            assert settings.auto_migrate is False
            assert settings.amqp_url.startswith("amqp://")
            assert settings.redis_url.startswith("redis://")

    @pytest.mark.parametrize("name", sorted({**SERVICES, **GATEWAYS}))
    def test_runs_uvicorn_on_the_service_port(self, compose: dict[str, Any], name: str) -> None:
        pkg = PARLEY_CONTAINERS[name]
        command = compose["services"][name]["command"]
        assert command[:3] == ["uvicorn", f"{pkg}.main:create_app", "--factory"]
        assert command[command.index("--port") + 1] == str(PORTS[pkg])
        assert command[command.index("--host") + 1] == "0.0.0.0"

    @pytest.mark.parametrize("name", sorted(SERVICES))
    def test_service_starts_after_its_migration(self, compose: dict[str, Any], name: str) -> None:
        depends = compose["services"][name]["depends_on"]
        assert depends[f"{name}-migrate"]["condition"] == "service_completed_successfully"
        migrate = compose["services"][f"{name}-migrate"]
        assert migrate["command"] == ["python", "-m", "parley.migrate", name]
        assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
        db = _environment(compose["services"][name])["PARLEY_DATABASE_URL"]
        assert db == _environment(migrate)["PARLEY_DATABASE_URL"]
        assert db.endswith(f"/parley_{name}")

    def test_each_service_database_is_created_on_first_start(self) -> None:
        sql = (DEPLOY / "postgres" / "init-databases.sql").read_text()
        assert set(re.findall(r"CREATE DATABASE (\w+);", sql)) == {f"parley_{s}" for s in SERVICES}

    def test_dependencies_wait_for_health(self, compose: dict[str, Any]) -> None:
        for name, service in compose["services"].items():
            for dependency, spec in (service.get("depends_on") or {}).items():
                expected = (
                    "service_completed_successfully"
                    if dependency in MIGRATIONS
                    else "service_healthy"
                )
                assert spec["condition"] == expected, f"{name} -> {dependency}"

    def test_gateways_have_distinct_ids(self, compose: dict[str, Any]) -> None:
        ids = {_environment(compose["services"][g])["PARLEY_GATEWAY_ID"] for g in GATEWAYS}
        assert len(ids) == len(GATEWAYS)


class TestProxy:
    def test_nginx_balances_both_gateways_with_websocket_upgrade(self) -> None:
        conf = (DEPLOY / "nginx" / "nginx.conf").read_text()
        upstream = re.search(r"upstream gateway \{(.*?)\}", conf, re.S)
        assert upstream is not None
        assert "least_conn;" in upstream.group(1)
        assert set(re.findall(r"server (gateway-\d):8000", upstream.group(1))) == set(GATEWAYS)
        assert "proxy_set_header Upgrade $http_upgrade;" in conf
        assert "proxy_set_header Connection $connection_upgrade;" in conf
        assert "proxy_http_version 1.1;" in conf
        assert re.search(r"proxy_read_timeout (\d+)h;", conf)

    def test_nginx_sets_the_client_address_and_logs_no_token(self) -> None:
        conf = (DEPLOY / "nginx" / "nginx.conf").read_text()
        # Set, not appended to: a client's own X-Forwarded-For never reaches the gateways.
        assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
        assert "$proxy_add_x_forwarded_for" not in conf
        log_format = re.search(r"log_format main (.*?);", conf, re.S)
        assert log_format is not None
        for leaky in ("$request ", '$request"', "$request_uri", "$args", "$query_string", "$uri"):
            assert leaky not in log_format.group(1), leaky

    def test_gateways_trust_only_the_proxy(self, compose: dict[str, Any]) -> None:
        proxy_ip = compose["services"]["proxy"]["networks"]["default"]["ipv4_address"]
        for name in GATEWAYS:
            env = _environment(compose["services"][name])
            assert env["PARLEY_TRUSTED_PROXIES"] == proxy_ip
            assert "FORWARDED_ALLOW_IPS" not in env
            assert "--no-proxy-headers" in compose["services"][name]["command"]

    def test_proxy_publishes_port_8000(self, compose: dict[str, Any]) -> None:
        published = set()
        for port in compose["services"]["proxy"]["ports"]:
            if isinstance(port, str):  # "[ip:]published:target"
                *_, host, container = port.split(":")
                published.add((host, int(container.split("/")[0])))
            else:
                published.add((str(port["published"]), int(port["target"])))
        assert ("8000", 8000) in published


class TestObservability:
    def test_prometheus_config_is_valid(self) -> None:
        run([tool("promtool"), "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")])

    def test_prometheus_scrapes_every_parley_container(self) -> None:
        config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
        targets = {
            target
            for job in config["scrape_configs"]
            for static in job.get("static_configs", [])
            for target in static["targets"]
        }
        # The internal metrics port, not the service port (the gateways' is public).
        expected = {f"{name}:9100" for name in {**SERVICES, **GATEWAYS}}
        assert expected <= targets
        for job in config["scrape_configs"]:
            # The broker's per-queue metrics are on its detailed endpoint (consumer lag).
            wanted = "/metrics/detailed" if job["job_name"] == "rabbitmq" else "/metrics"
            assert job.get("metrics_path", "/metrics") == wanted

    def test_grafana_is_provisioned_from_deploy_grafana(self, compose: dict[str, Any]) -> None:
        mounts = _binds(compose["services"]["grafana"])
        provider = yaml.safe_load(
            (DEPLOY / "grafana" / "provisioning" / "dashboards" / "parley.yml").read_text()
        )
        dashboards_path = provider["providers"][0]["options"]["path"]
        assert (str(DEPLOY / "grafana" / "provisioning"), "/etc/grafana/provisioning") in mounts
        assert (str(DEPLOY / "grafana" / "dashboards"), dashboards_path) in mounts


def _binds(service: dict[str, Any]) -> set[tuple[str, str]]:
    """(absolute host path, container path) of bind mounts, in 1.29's short or v2's long form."""
    binds = set()
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        if source.startswith(("/", ".")):
            binds.add((str((REPO / source).resolve()), target))
    return binds
