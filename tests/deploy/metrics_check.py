"""Metric names in PromQL, in docs/DEVELOPING.md and in /metrics output.

Used by tests/deploy (dashboards use only documented names) and meant for the e2e tests
(dashboards use only names the running services expose): see `missing_from_exposition`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEVELOPING_MD = REPO / "docs" / "DEVELOPING.md"
DASHBOARDS_DIR = REPO / "deploy" / "grafana" / "dashboards"

# Series a histogram or summary adds to its family name.
SAMPLE_SUFFIXES = ("_bucket", "_sum", "_count")

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:.$])[a-zA-Z_:][a-zA-Z0-9_:]*(?![\w:])")
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless"}
    | {"bool", "offset", "inf", "nan", "atan2"}
)
_DOCUMENTED = re.compile(r"`(parley_[a-z0-9_]+)")


def metric_names_in_expr(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, labels, keywords left out).

    Handles the PromQL our dashboards write: selectors with matchers and ranges, aggregations
    with by/without, binary operators with on/ignoring, Grafana variables ($__rate_interval).
    A selector by `{__name__=...}` alone is reported as the name "__name__" so that a check
    flags it rather than letting it pass unseen.
    """
    text = _STRING.sub('""', expr)
    if "__name__" in text:
        return {"__name__"}
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        word = match.group(0)
        rest = text[match.end() :].lstrip()
        if word in _KEYWORDS or rest.startswith("("):
            continue  # a keyword, or a function / aggregation call
        names.add(word)
    return names


def base_metric_name(name: str) -> str:
    """`parley_x_seconds_bucket` -> `parley_x_seconds` (the name a histogram is declared with)."""
    for suffix in SAMPLE_SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def documented_metric_names(path: Path = DEVELOPING_MD) -> set[str]:
    """Metric names of docs/DEVELOPING.md's "Metrics" section, as written there."""
    text = path.read_text()
    section = text.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    return set(_DOCUMENTED.findall(section))


def load_dashboards(directory: Path = DASHBOARDS_DIR) -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def iter_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def dashboard_exprs(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) for every query target of every panel."""
    for panel in iter_panels(dashboard):
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield panel.get("title", "?"), target["expr"]


def dashboard_metric_names(dashboards: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """Metric name as written in the PromQL -> titles of the panels that use it."""
    used: dict[str, set[str]] = {}
    for dashboard in dashboards:
        for title, expr in dashboard_exprs(dashboard):
            for name in metric_names_in_expr(expr):
                used.setdefault(name, set()).add(f"{dashboard.get('title')}: {title}")
    return used


def exposed_families(exposition: str) -> dict[str, str]:
    """Metric family name -> type, from the `# TYPE` lines of a /metrics response.

    TYPE lines are there even for labelled metrics that have no sample yet, so a fresh
    process already shows every name it defines.
    """
    families = {}
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            families[name] = kind.strip()
    return families


def is_exposed(name: str, families: dict[str, str]) -> bool:
    """Whether a name used in PromQL is a series of one of the exposed families."""
    if name in families:
        return True
    for suffix in SAMPLE_SUFFIXES:
        if name.endswith(suffix) and families.get(name.removesuffix(suffix)) in {
            "histogram",
            "summary",
        }:
            return True
    # Counters: the client library declares `x_total` or `x` depending on its version.
    return name.endswith("_total") and families.get(name.removesuffix("_total")) == "counter"


def missing_from_exposition(
    expositions: Iterable[str], dashboards: Iterable[dict[str, Any]] | None = None
) -> dict[str, set[str]]:
    """Dashboard metric names that none of the given /metrics texts exposes (-> their panels).

    For the e2e tests: pass the /metrics text of every running service.
    """
    families: dict[str, str] = {}
    for text in expositions:
        families.update(exposed_families(text))
    used = dashboard_metric_names(load_dashboards().values() if dashboards is None else dashboards)
    return {name: panels for name, panels in used.items() if not is_exposed(name, families)}
