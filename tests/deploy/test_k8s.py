"""deploy/k8s: both overlays render, every resource is valid Kubernetes, and the manifests agree
with the services (ports, probes, settings)."""

from __future__ import annotations

import functools
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from .deploy_support import (
    DEPLOY,
    PORTS,
    PROBE_PATHS,
    load_settings,
    run,
    settings_class,
    tool,
    unknown_parley_settings,
)

K8S = DEPLOY / "k8s"
OVERLAYS = ["dev", "prod"]
# The oldest Kubernetes we support, and the newest schema kubernetes-validate knows.
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
DATABASE_SERVICES = ["auth", "chat", "notify"]
METRICS_PORT = 9100

Resource = dict[str, Any]


@functools.cache
def render(path: str) -> list[Resource]:
    """`kubectl kustomize` output, parsed; cached, so callers must not modify it."""
    out = run([tool("kubectl"), "kustomize", str(K8S / path)])
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[Resource]]:
    return request.param, render(f"overlays/{request.param}")


@pytest.fixture(scope="module")
def dev() -> list[Resource]:
    return render("overlays/dev")


@pytest.fixture(scope="module")
def prod() -> list[Resource]:
    return render("overlays/prod")


def find(resources: list[Resource], kind: str, name: str | None = None) -> list[Resource]:
    return [
        r
        for r in resources
        if r["kind"] == kind and (name is None or r["metadata"]["name"] == name)
    ]


def one(resources: list[Resource], kind: str, name: str) -> Resource:
    found = find(resources, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def parley_containers(resources: list[Resource]) -> list[tuple[str, Resource, Resource]]:
    """(service, workload, container) for every container running the parley image."""
    out = []
    for r in resources:
        if r["kind"] not in {"Deployment", "Job"}:
            continue
        for c in r["spec"]["template"]["spec"]["containers"]:
            if c["image"].split("/")[-1].split(":")[0] == "parley":
                out.append((r["metadata"]["name"].removesuffix("-migrate"), r, c))
    return out


def env_of(container: Resource, config: dict[str, str], secret: dict[str, str]) -> dict[str, str]:
    """The container's environment, with ConfigMap and Secret references resolved."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert source["configMapRef"]["name"] == "parley-config"
        env.update(config)
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "secretKeyRef" in item["valueFrom"]:
            ref = item["valueFrom"]["secretKeyRef"]
            assert ref["name"] == "parley-secrets"
            env[item["name"]] = secret[ref["key"]]
        else:
            env[item["name"]] = "field-ref"
    return env


class TestRender:
    def test_validates_against_the_kubernetes_schemas(
        self, overlay: tuple[str, list[Resource]]
    ) -> None:
        name, resources = overlay
        assert resources
        for version in KUBERNETES_VERSIONS:
            for resource in resources:
                try:
                    kubernetes_validate.validate(resource, version, strict=True)
                except kubernetes_validate.ValidationError as exc:
                    raise AssertionError(
                        f"{name}: {resource['kind']}/{resource['metadata']['name']} "
                        f"invalid for Kubernetes {version}: {exc.message} at {list(exc.path)}"
                    ) from exc

    def test_everything_is_in_the_parley_namespace(
        self, overlay: tuple[str, list[Resource]]
    ) -> None:
        _, resources = overlay
        for r in resources:
            if r["kind"] != "Namespace":
                assert r["metadata"].get("namespace") == "parley", r["metadata"]["name"]

    def test_base_renders(self) -> None:
        assert render("base")


class TestServices:
    @pytest.mark.parametrize("service", sorted(PORTS))
    def test_deployment_service_and_probes_use_the_service_port(
        self, overlay: tuple[str, list[Resource]], service: str
    ) -> None:
        _, resources = overlay
        port = PORTS[service]
        deployment = one(resources, "Deployment", service)
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        command = container["command"]
        assert command[:3] == ["uvicorn", f"{service}.main:create_app", "--factory"]
        assert command[command.index("--port") + 1] == str(port)
        named_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert named_ports == {"http": port, "metrics": METRICS_PORT}

        probes = {k: container.get(k) for k in ("livenessProbe", "readinessProbe")}
        assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = container.get(kind)
            if probe is None:
                continue
            assert probe["httpGet"]["path"] in PROBE_PATHS
            probe_port = named_ports.get(probe["httpGet"]["port"], probe["httpGet"]["port"])
            # /readyz is not public: it is on the metrics port (PARLEY_METRICS_PORT).
            expected = METRICS_PORT if probe["httpGet"]["path"] == "/readyz" else port
            assert probe_port == expected, f"{service} {kind}"

        svc = one(resources, "Service", service)
        (svc_port,) = svc["spec"]["ports"]
        assert svc_port["port"] == port
        assert named_ports.get(svc_port["targetPort"], svc_port["targetPort"]) == port
        assert svc["spec"]["selector"].items() <= pod_labels(deployment).items()
        assert deployment["spec"]["template"]["metadata"]["annotations"][
            "prometheus.io/port"
        ] == str(METRICS_PORT)
        config = one(resources, "ConfigMap", "parley-config")["data"]
        assert config["PARLEY_METRICS_PORT"] == str(METRICS_PORT)

    @pytest.mark.parametrize("service", sorted(PORTS))
    def test_resources_and_disruption_budget(
        self, overlay: tuple[str, list[Resource]], service: str
    ) -> None:
        _, resources = overlay
        deployment = one(resources, "Deployment", service)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
        assert "memory" in container["resources"]["limits"]
        pdb = one(resources, "PodDisruptionBudget", service)
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels(deployment).items()

    @pytest.mark.parametrize("service", ["gateway", "chat"])
    def test_autoscaled(self, overlay: tuple[str, list[Resource]], service: str) -> None:
        _, resources = overlay
        hpa = one(resources, "HorizontalPodAutoscaler", service)
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": service,
        }
        # The HPA owns the replica count; a fixed one in the Deployment would fight it.
        assert "replicas" not in one(resources, "Deployment", service)["spec"]

    def test_gateway_drains_before_it_stops(self, overlay: tuple[str, list[Resource]]) -> None:
        _, resources = overlay
        pod = one(resources, "Deployment", "gateway")["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "sleep"
        command = container["command"]
        drain = int(command[command.index("--timeout-graceful-shutdown") + 1])
        assert pod["terminationGracePeriodSeconds"] > int(pre_stop[1]) + drain

    def test_gateway_trusts_only_the_ingress(self, overlay: tuple[str, list[Resource]]) -> None:
        _, resources = overlay
        (container,) = one(resources, "Deployment", "gateway")["spec"]["template"]["spec"][
            "containers"
        ]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert "FORWARDED_ALLOW_IPS" not in env and env["PARLEY_TRUSTED_PROXIES"]
        for _, _, c in parley_containers(resources):
            if c["command"][0] == "uvicorn":
                assert "--no-proxy-headers" in c["command"]
        policy = one(resources, "NetworkPolicy", "gateway-from-ingress")
        (public,) = [
            rule
            for rule in policy["spec"]["ingress"]
            if {"port": "http", "protocol": "TCP"} in rule["ports"]
        ]
        (source,) = public["from"]
        assert source["namespaceSelector"]["matchLabels"] == {
            "kubernetes.io/metadata.name": "ingress-nginx"
        }

    def test_ingress_routes_to_the_gateway_with_websocket_timeouts(
        self, overlay: tuple[str, list[Resource]]
    ) -> None:
        _, resources = overlay
        (ingress,) = find(resources, "Ingress")
        annotations = ingress["metadata"]["annotations"]
        for key in ("proxy-read-timeout", "proxy-send-timeout"):
            assert int(annotations[f"nginx.ingress.kubernetes.io/{key}"]) >= 3600
        (rule,) = ingress["spec"]["rules"]
        (path,) = rule["http"]["paths"]
        assert path["backend"]["service"]["name"] == "gateway"


class TestMigrations:
    @pytest.mark.parametrize("service", DATABASE_SERVICES)
    def test_a_job_migrates_each_database(
        self, overlay: tuple[str, list[Resource]], service: str
    ) -> None:
        _, resources = overlay
        job = one(resources, "Job", f"{service}-migrate")
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["python", "-m", "parley.migrate", service]
        (db,) = [e for e in container["env"] if e["name"] == "PARLEY_DATABASE_URL"]
        deployment = one(resources, "Deployment", service)
        (service_container,) = deployment["spec"]["template"]["spec"]["containers"]
        (service_db,) = [e for e in service_container["env"] if e["name"] == "PARLEY_DATABASE_URL"]
        assert db["valueFrom"] == service_db["valueFrom"]

    @pytest.mark.parametrize("service", DATABASE_SERVICES)
    def test_replicas_start_only_after_their_migration(
        self, overlay: tuple[str, list[Resource]], service: str
    ) -> None:
        """`kubectl apply` creates the Jobs and rolls the Deployments at once: an init
        container holds each new replica until the schema has its image's revision."""
        _, resources = overlay
        pod = one(resources, "Deployment", service)["spec"]["template"]["spec"]
        (wait,) = pod["initContainers"]
        (container,) = pod["containers"]
        assert wait["command"] == ["python", "-m", "parley.migrate", "--wait", service]
        assert wait["image"] == container["image"]
        (db,) = [e for e in wait["env"] if e["name"] == "PARLEY_DATABASE_URL"]
        (service_db,) = [e for e in container["env"] if e["name"] == "PARLEY_DATABASE_URL"]
        assert db["valueFrom"] == service_db["valueFrom"]
        assert wait["securityContext"]["readOnlyRootFilesystem"] is True
        assert wait["resources"]["limits"]


class TestSettings:
    def test_environment_names_only_real_settings(
        self, overlay: tuple[str, list[Resource]]
    ) -> None:
        _, resources = overlay
        config = one(resources, "ConfigMap", "parley-config")["data"]
        for service in PORTS:
            # The ConfigMap goes to every service, so each key must be a setting of each.
            assert not unknown_parley_settings(service, set(config)), service
        for service, workload, container in parley_containers(resources):
            names = {e["name"] for e in container.get("env", [])}
            unknown = unknown_parley_settings(service, names)
            assert not unknown, f"{workload['metadata']['name']}: {unknown}"

    def test_dev_settings_load(self, dev: list[Resource], monkeypatch: pytest.MonkeyPatch) -> None:
        config = one(dev, "ConfigMap", "parley-config")["data"]
        secret = one(dev, "Secret", "parley-secrets")["stringData"]
        assert config["PARLEY_ENVIRONMENT"] == "development"
        for service, workload, container in parley_containers(dev):
            if workload["kind"] != "Deployment":
                continue
            env = {k: v for k, v in env_of(container, config, secret).items() if "PARLEY_" in k}
            settings = load_settings(service, env, monkeypatch)
            assert settings.auto_migrate is False

    def test_every_secret_key_used_is_in_the_template(
        self, overlay: tuple[str, list[Resource]]
    ) -> None:
        _, resources = overlay
        template = one(render("base"), "Secret", "parley-secrets")["stringData"]
        example = (K8S / "overlays" / "prod" / "parley-secrets.example.env").read_text()
        example_keys = {
            line.split("=", 1)[0]
            for line in example.splitlines()
            if line.strip() and not line.startswith("#")
        }
        assert example_keys == set(template)
        for _, workload, container in parley_containers(resources):
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in template, f"{workload['metadata']['name']}: {ref['key']}"

    def test_placeholder_secrets_are_refused_in_production(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        base = render("base")
        config = one(base, "ConfigMap", "parley-config")["data"]
        secret = one(base, "Secret", "parley-secrets")["stringData"]
        assert config["PARLEY_ENVIRONMENT"] == "production"
        for service, workload, container in parley_containers(base):
            if workload["kind"] != "Deployment":
                continue
            env = {k: v for k, v in env_of(container, config, secret).items() if "PARLEY_" in k}
            with pytest.raises(ValidationError):
                load_settings(service, env, monkeypatch)
            assert settings_class(service)  # importable, refused only for the placeholders


class TestOverlays:
    def test_dev_runs_its_backends_in_the_cluster(self, dev: list[Resource]) -> None:
        for name, port in [("postgres", 5432), ("rabbitmq", 5672), ("redis", 6379)]:
            statefulset = one(dev, "StatefulSet", name)
            assert statefulset["spec"]["serviceName"] == name
            svc = one(dev, "Service", name)
            assert port in {p["port"] for p in svc["spec"]["ports"]}
        secret = one(dev, "Secret", "parley-secrets")["stringData"]
        assert "@postgres:5432/parley_chat" in secret["CHAT_DATABASE_URL"]

    def test_prod_takes_backends_from_an_external_secret(self, prod: list[Resource]) -> None:
        assert not find(prod, "StatefulSet")
        # Never overwrite the real Secret with the template on apply.
        assert not find(prod, "Secret")
        images = {c["image"] for _, _, c in parley_containers(prod)}
        assert len(images) == 1 and not images.pop().endswith(":latest")


def pod_labels(deployment: Resource) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


class TestShippedSecrets:
    def test_every_secret_value_in_the_manifests_is_refused_in_production(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The dev overlay's and the templates' values may run in development only."""
        example = (K8S / "overlays" / "prod" / "parley-secrets.example.env").read_text()
        values = {
            line.split("=", 1)[1]
            for line in example.splitlines()
            if line.startswith(("INTERNAL_TOKEN=", "UNSUBSCRIBE_SECRET="))
        }
        for path in ("base", "overlays/dev"):
            secret = one(render(path), "Secret", "parley-secrets")["stringData"]
            values |= {secret["INTERNAL_TOKEN"], secret["UNSUBSCRIBE_SECRET"]}
        assert values
        strong = "s" * 48
        for value in values:
            for env in (
                {"PARLEY_INTERNAL_TOKEN": value},
                {"PARLEY_INTERNAL_TOKEN": strong, "PARLEY_UNSUBSCRIBE_SECRET": value},
            ):
                with pytest.raises(ValidationError):
                    load_settings(
                        "notify", {"PARLEY_ENVIRONMENT": "production", **env}, monkeypatch
                    )
