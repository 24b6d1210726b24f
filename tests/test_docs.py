"""Generated documents stay in step with the code they are generated from."""

from __future__ import annotations

from pathlib import Path

from parley.settings_doc import render, render_readme

ROOT = Path(__file__).resolve().parents[1]


def test_configuration_doc_lists_every_setting() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == render(), (
        "run `python -m parley.settings_doc` and commit docs/configuration.md"
    )


def test_readme_settings_table_is_current() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme == render_readme(readme), "run `make docs` and commit README.md"


def test_openapi_doc_is_current() -> None:
    from parley import openapi_doc

    committed = (ROOT / "docs" / "openapi.json").read_text()
    assert committed == openapi_doc.render(), "run `make docs` and commit docs/openapi.json"
