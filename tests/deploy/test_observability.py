"""Dashboards use only documented metric names and valid PromQL; the shared metrics pass
promtool's lint; Grafana provisioning points the dashboards at the fixed datasource uid."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from .deploy_support import DEPLOY, run, tool
from .metrics_check import (
    base_metric_name,
    dashboard_exprs,
    dashboard_metric_names,
    documented_metric_names,
    exposed_families,
    is_exposed,
    iter_panels,
    load_dashboards,
    metric_names_in_expr,
    missing_from_exposition,
)

GRAFANA = DEPLOY / "grafana"
DATASOURCE_UID = "prometheus"
DASHBOARDS = {"overview.json", "http.json", "notify.json"}
# Grafana's variables, replaced by values of the right type before promtool parses the PromQL.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "1h", "$service": "auth"}


@pytest.fixture(scope="module")
def dashboards() -> dict[str, dict[str, Any]]:
    return load_dashboards()


def _all_exprs(dashboards: dict[str, dict[str, Any]]) -> list[str]:
    return [expr for d in dashboards.values() for _, expr in dashboard_exprs(d)]


class TestMetricNameParsing:
    @pytest.mark.parametrize(
        ("expr", "names"),
        [
            ("sum(parley_ws_connections)", {"parley_ws_connections"}),
            (
                'histogram_quantile(0.99, sum by (le) (rate(a_bucket{x="b(c)"}[$__rate_interval])))',
                {"a_bucket"},
            ),
            ("sum by (service) (rate(a_total[5m])) / sum without (x) (b)", {"a_total", "b"}),
            ("a * on (instance) group_left (job) b offset 5m > 1e3", {"a", "b"}),
            ('{__name__=~"parley_.*"}', {"__name__"}),
        ],
    )
    def test_metric_names_in_expr(self, expr: str, names: set[str]) -> None:
        assert metric_names_in_expr(expr) == names

    def test_documented_names_are_read(self) -> None:
        documented = documented_metric_names()
        assert {
            "parley_http_request_duration_seconds",
            "parley_delivery_latency_seconds",
            "parley_messages_sent_total",
            "parley_users_online",
        } <= documented

    def test_exposition_check_knows_histogram_and_counter_series(self) -> None:
        families = exposed_families(
            "# TYPE parley_a_seconds histogram\n# TYPE parley_b counter\n# TYPE parley_c gauge\n"
        )
        assert is_exposed("parley_a_seconds_bucket", families)
        assert is_exposed("parley_b_total", families)
        assert is_exposed("parley_c", families)
        assert not is_exposed("parley_c_bucket", families)


class TestDashboards:
    def test_the_three_dashboards_exist_with_fixed_uids(
        self, dashboards: dict[str, dict[str, Any]]
    ) -> None:
        assert set(dashboards) == DASHBOARDS
        uids = [d["uid"] for d in dashboards.values()]
        assert len(set(uids)) == len(uids) and all(uid.startswith("parley-") for uid in uids)

    def test_every_metric_is_a_documented_one(self, dashboards: dict[str, dict[str, Any]]) -> None:
        documented = documented_metric_names()
        used = dashboard_metric_names(dashboards.values())
        unknown = {n: p for n, p in used.items() if base_metric_name(n) not in documented}
        assert not unknown, f"not in docs/DEVELOPING.md: {unknown}"

    def test_every_panel_uses_the_fixed_datasource(
        self, dashboards: dict[str, dict[str, Any]]
    ) -> None:
        for name, dashboard in dashboards.items():
            for panel in iter_panels(dashboard):
                if panel["type"] == "row":
                    continue
                assert panel["datasource"]["uid"] == DATASOURCE_UID, (name, panel["title"])
                if panel["type"] == "alertlist":
                    # It lists the Prometheus datasource's alert rules: no query of its own.
                    assert panel["options"]["datasource"] == "Prometheus"
                    continue
                assert panel["targets"], (name, panel["title"])
                for target in panel["targets"]:
                    assert target["datasource"]["uid"] == DATASOURCE_UID, (name, panel["title"])
            for variable in dashboard["templating"]["list"]:
                assert variable["datasource"]["uid"] == DATASOURCE_UID

    def test_promql_parses(self, dashboards: dict[str, dict[str, Any]], tmp_path: Path) -> None:
        rules = []
        for i, expr in enumerate(_all_exprs(dashboards)):
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            assert "$" not in expr, f"unknown Grafana variable in {expr}"
            rules.append({"record": f"dashboard:expr_{i}", "expr": expr})
        path = tmp_path / "rules.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
        run([tool("promtool"), "check", "rules", str(path)])

    def test_overview_shows_what_the_issue_asks(
        self, dashboards: dict[str, dict[str, Any]]
    ) -> None:
        exprs = " ".join(e for _, e in dashboard_exprs(dashboards["overview.json"]))
        for quantile in ("0.5", "0.99"):
            assert (
                f"histogram_quantile({quantile}, sum by (le) (rate(parley_delivery_latency_seconds_bucket"
                in exprs
            )
        for fragment in (
            "parley_ws_connections",
            "parley_messages_sent_total",
            'status=~"5.."',
            "parley_outbox_backlog",
            "parley_outbox_oldest_age_seconds",
            "sum by (service, result) (rate(parley_events_consumed_total",
        ):
            assert fragment in exprs, fragment

    def test_http_shows_rate_and_quantiles_by_route(
        self, dashboards: dict[str, dict[str, Any]]
    ) -> None:
        exprs = " ".join(e for _, e in dashboard_exprs(dashboards["http.json"]))
        assert "route" in exprs and "parley_http_request_duration_seconds_count" in exprs
        for quantile in ("0.5", "0.99"):
            assert (
                f"histogram_quantile({quantile}, sum by (le, method, route) (rate(parley_http_request_duration_seconds_bucket"
                in exprs
            )

    def test_notify_shows_email_notifications_and_presence(
        self, dashboards: dict[str, dict[str, Any]]
    ) -> None:
        names = set(dashboard_metric_names([dashboards["notify.json"]]))
        assert names >= {
            "parley_emails_sent_total",
            "parley_emails_failed_total",
            "parley_emails_pending",
            "parley_notifications_created_total",
            "parley_users_online",
        }

    def test_json_files_are_what_generate_py_writes(self) -> None:
        spec = importlib.util.spec_from_file_location("grafana_generate", GRAFANA / "generate.py")
        assert spec and spec.loader
        generate = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(generate)
        for name in DASHBOARDS:
            written = (GRAFANA / "dashboards" / name).read_text()
            assert written == generate.render(name), (
                f"{name} is stale: run python deploy/grafana/generate.py"
            )


class TestGrafanaProvisioning:
    def test_datasource_has_the_fixed_uid(self) -> None:
        config = yaml.safe_load(
            (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
        )
        (datasource,) = config["datasources"]
        assert datasource["uid"] == DATASOURCE_UID
        assert datasource["type"] == "prometheus"
        assert datasource["url"] == "http://prometheus:9090"

    def test_kubernetes_gets_the_same_dashboards(self) -> None:
        rendered = run([tool("kubectl"), "kustomize", str(GRAFANA)])
        (configmap,) = [d for d in yaml.safe_load_all(rendered) if d]
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
        for name in DASHBOARDS:
            assert json.loads(configmap["data"][name]) == json.loads(
                (GRAFANA / "dashboards" / name).read_text()
            )


@pytest.fixture(scope="module")
def exposition() -> str:
    """parley_common's shared metrics, one sample each, in a registry of their own (the
    global one also holds whatever other tests in this process defined)."""
    from parley_common import metrics

    registry = CollectorRegistry()
    for value in vars(metrics).values():
        if isinstance(value, Counter | Gauge | Histogram):
            registry.register(value)
    # A service label no real service uses: other tests in this process may read these metrics.
    service = "deploy-tests"
    metrics.HTTP_REQUEST_DURATION.labels(service, "GET", "/healthz", "200").observe(0.004)
    metrics.EVENTS_PUBLISHED.labels(service, "message.created").inc()
    metrics.EVENTS_CONSUMED.labels(service, "message.created", "processed").inc()
    metrics.OUTBOX_BACKLOG.labels(service).set(0)
    metrics.OUTBOX_AGE.labels(service).set(0)
    return generate_latest(registry).decode()


class TestSharedMetrics:
    def test_promtool_accepts_the_exposition(self, exposition: str) -> None:
        assert "parley_http_request_duration_seconds_bucket" in exposition
        out = run([tool("promtool"), "check", "metrics"], stdin=exposition)
        assert not out.strip(), out

    def test_shared_names_are_the_documented_ones(self, exposition: str) -> None:
        families = exposed_families(exposition)
        shared = {
            "parley_http_request_duration_seconds",
            "parley_events_published_total",
            "parley_events_consumed_total",
            "parley_outbox_backlog",
            "parley_outbox_oldest_age_seconds",
        }
        assert shared <= documented_metric_names()
        for name in shared:
            assert is_exposed(name, families), name

    def test_missing_from_exposition_reports_only_other_services_names(
        self, exposition: str
    ) -> None:
        missing = missing_from_exposition([exposition])
        assert "parley_outbox_backlog" not in missing
        assert "parley_http_request_duration_seconds_bucket" not in missing
        assert "parley_ws_connections" in missing  # a gateway metric, not a shared one
