"""The alert rules are valid, each fires on a recorded incident and stays quiet otherwise
(`promtool test rules`), Prometheus loads them, and every metric they read exists."""

from __future__ import annotations

import re

import yaml

from .deploy_support import DEPLOY, REPO, run, tool

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
