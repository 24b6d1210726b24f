"""tests/deploy: compose, Kubernetes, Prometheus and Grafana files checked offline."""

from __future__ import annotations

import sys
from pathlib import Path

# The helper module beside these tests (metrics_check), importable under --import-mode=importlib.
sys.path.insert(0, str(Path(__file__).parent))
