"""Generated documents stay in step with the code they are generated from."""

from __future__ import annotations

from pathlib import Path

from parley.settings_doc import render

ROOT = Path(__file__).resolve().parents[1]


def test_configuration_doc_lists_every_setting() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == render(), (
        "run `python -m parley.settings_doc` and commit docs/configuration.md"
    )
