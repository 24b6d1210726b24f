"""The building blocks of the generated dashboards (deploy/grafana/generate.py): query
targets, panels, rows, the alert list and the dashboard around them, in one shape."""

from __future__ import annotations

from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
RATE = "$__rate_interval"


def target(expr: str, legend: str = "", ref: str = "A") -> dict[str, Any]:
    return {
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": True,
        "refId": ref,
    }


def panel(
    title: str,
    targets: list[tuple[str, str]],
    *,
    grid: tuple[int, int, int, int],
    unit: str = "short",
    kind: str = "timeseries",
    description: str = "",
    thresholds: list[tuple[float | None, str]] | None = None,
) -> dict[str, Any]:
    x, y, w, h = grid
    steps = [{"color": color, "value": value} for value, color in (thresholds or [(None, "green")])]
    result: dict[str, Any] = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [
            target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(targets)
        ],
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "thresholds": {"mode": "absolute", "steps": steps},
            },
            "overrides": [],
        },
        "options": {},
    }
    if kind == "timeseries":
        result["fieldConfig"]["defaults"]["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
        }
        result["options"] = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    elif kind == "stat":
        result["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "auto",
        }
    return result


def row(title: str, y: int, *, repeat: str = "") -> dict[str, Any]:
    result: dict[str, Any] = {
        "type": "row",
        "title": title,
        "collapsed": False,
        "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
        "panels": [],
    }
    if repeat:
        result["repeat"] = repeat
    return result


def alert_list(title: str, *, grid: tuple[int, int, int, int]) -> dict[str, Any]:
    """Grafana's alert list over the Prometheus datasource's rules (deploy/prometheus/
    alerts.yml): the Parley alerts firing or pending, each with its summary and runbook."""
    x, y, w, h = grid
    return {
        "type": "alertlist",
        "title": title,
        "description": "Parley's Prometheus alerts that fire or are pending; each one's "
        "runbook_url leads to docs/operations.md, its dashboard annotation to the panel to look at.",
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "options": {
            "viewMode": "list",
            "groupMode": "default",
            "groupBy": [],
            "maxItems": 20,
            "sortOrder": 1,
            "dashboardAlerts": False,
            "alertName": "Parley",
            "alertInstanceLabelFilter": "",
            # Rules of this datasource (Prometheus), not Grafana-managed ones.
            "datasource": "Prometheus",
            "stateFilter": {
                "firing": True,
                "pending": True,
                "noData": False,
                "normal": False,
                "error": True,
            },
        },
    }


def below(dy: int, panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The panels moved down by `dy` grid rows (to make room above them)."""
    for p in panels:
        p["gridPos"]["y"] += dy
    return panels


def dashboard(
    uid: str, title: str, description: str, panels: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    for i, p in enumerate(panels, start=1):
        p["id"] = i
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["parley"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "schemaVersion": 39,
        "version": 1,
        "links": [
            {
                "type": "dashboards",
                "tags": ["parley"],
                "asDropdown": False,
                "title": "Parley",
                "includeVars": False,
                "keepTime": True,
            },
            {
                "type": "link",
                "title": "Alert rules",
                "tooltip": "Parley's Prometheus alert rules in Grafana Alerting",
                "url": "/alerting/list?search=Parley",
                "icon": "bolt",
                "targetBlank": False,
            },
        ],
        "templating": {"list": extra.pop("variables", [])},
        "annotations": {"list": []},
        "panels": panels,
        **extra,
    }
