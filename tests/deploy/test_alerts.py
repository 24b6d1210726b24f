"""The alert rules are valid, each fires on a recorded incident and stays quiet otherwise
(`promtool test rules`), Prometheus loads them, and every metric they read exists."""

from __future__ import annotations

import re
from typing import Any

import yaml

from .deploy_support import DEPLOY, REPO, run, tool
from .metrics_check import iter_panels, load_dashboards, metric_names_in_expr

RULES = DEPLOY / "prometheus" / "alerts.yml"
RULE_TESTS = REPO / "tests" / "deploy" / "alerts_test.yml"


def test_rules_are_valid_and_fire_as_recorded() -> None:
    run([tool("promtool"), "check", "rules", str(RULES)])
    out = run([tool("promtool"), "test", "rules", str(RULE_TESTS)])
    assert "SUCCESS" in out


def test_every_alert_is_tested_and_prometheus_loads_the_rules() -> None:
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    tested = {
        t["alertname"]
        for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for t in case["alert_rule_test"]
    }
    assert alerts == tested
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]


def test_rules_read_only_metrics_parley_exports() -> None:
    used = {
        re.sub(r"_(bucket|count|sum)$", "", n)
        for n in re.findall(r"\bparley_\w+", RULES.read_text())
    }
    code = "\n".join(
        p.read_text() for p in (REPO / "libs").rglob("*.py") if "tests" not in p.parts
    ) + "\n".join(
        p.read_text() for p in (REPO / "services").rglob("*.py") if "tests" not in p.parts
    )
    missing = {n for n in used if f'"{n}"' not in code}
    assert not missing, missing


OPERATIONS = REPO / "docs" / "operations.md"


def _rules() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def _heading_anchors(markdown: str) -> set[str]:
    """The anchors a Markdown renderer (GitHub's rule) gives the headings."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_every_alert_has_a_runbook_in_docs_operations() -> None:
    anchors = _heading_anchors(OPERATIONS.read_text())
    for rule in _rules():
        url = rule["annotations"]["runbook_url"]
        path, _, anchor = url.partition("#")
        assert path == "docs/operations.md", url
        assert anchor == rule["alert"].lower() and anchor in anchors, (
            f"{rule['alert']}: no runbook heading `#### {rule['alert']}` in docs/operations.md"
        )


def test_every_alert_links_the_panel_that_shows_it() -> None:
    """`dashboard: /d/<uid>?viewPanel=<id>` names an existing panel: the alert list, or one
    that queries a metric the alert reads (a reordering of the dashboards is caught here)."""
    panels = {(d["uid"], p["id"]): p for d in load_dashboards().values() for p in iter_panels(d)}
    overview = [p for (uid, _), p in panels.items() if uid == "parley-overview"]
    assert any(p["type"] == "alertlist" for p in overview)
    for rule in _rules():
        link = re.fullmatch(r"/d/([\w-]+)\?viewPanel=(\d+)", rule["annotations"]["dashboard"])
        assert link, rule["annotations"]["dashboard"]
        panel = panels.get((link[1], int(link[2])))
        assert panel is not None, f"{rule['alert']}: no panel at {link[0]}"
        if panel["type"] == "alertlist":
            continue
        shown = set().union(*(metric_names_in_expr(t["expr"]) for t in panel.get("targets", [])))
        assert metric_names_in_expr(rule["expr"]) & shown, (
            f"{rule['alert']} links {panel['title']!r}, which shows none of its metrics"
        )
