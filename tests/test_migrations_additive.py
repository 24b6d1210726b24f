"""Expand/contract: every migration added since the previous release (deploy/previous-release)
only adds to the schema, so the previous release's replicas keep working during a rolling
upgrade. A migration that drops, renames or tightens must be a contract step listed in
docs/operations.md ("Contract steps"), shipped a release after the code stopped using what it
removes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from parley_common.testing import previous_release

REPO = previous_release.REPO
OPERATIONS = REPO / "docs" / "operations.md"

# Alembic operations that break code reading or writing the old schema.
BREAKING_OPS = {
    "drop_table",
    "drop_column",
    "rename_table",
    "drop_constraint",
    "create_unique_constraint",
    "create_check_constraint",
    "create_foreign_key",
}
BREAKING_SQL = re.compile(r"\b(DROP\s+(TABLE|COLUMN)|RENAME|SET\s+NOT\s+NULL)\b", re.IGNORECASE)


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _not_null_without_default(column: ast.expr) -> bool:
    """An `sa.Column(..., nullable=False)` with no server default: the old code's inserts,
    which do not name it, would fail."""
    if not isinstance(column, ast.Call):
        return False
    return _is_false(_keyword(column, "nullable")) and _keyword(column, "server_default") is None


def _literal_sql(call: ast.Call) -> str:
    return " ".join(
        a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
    )


def breaking_operations(source: str) -> list[str]:
    """What in `upgrade()` of a migration's source would break the previous release."""
    tree = ast.parse(source)
    upgrade = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"), None
    )
    if upgrade is None:
        return []
    found = []
    for node in ast.walk(upgrade):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        op, line = node.func.attr, f"line {node.lineno}"
        if op in BREAKING_OPS:
            found.append(f"{line}: {op}")
        elif op == "alter_column" and (
            _keyword(node, "new_column_name") is not None
            or _is_false(_keyword(node, "nullable"))
            or _keyword(node, "type_") is not None
        ):
            found.append(f"{line}: alter_column renames, tightens or retypes")
        elif op == "add_column" and len(node.args) > 1 and _not_null_without_default(node.args[1]):
            found.append(f"{line}: add_column NOT NULL without server_default")
        elif op in ("execute", "text") and (sql := BREAKING_SQL.search(_literal_sql(node))):
            found.append(f"{line}: SQL {sql[0]!r}")
    return found


def documented_contract_steps() -> set[str]:
    """Migration paths listed under "Contract steps" in docs/operations.md."""
    text = OPERATIONS.read_text()
    section = text.split("### Contract steps", 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return set(re.findall(r"`(services/[\w/.]+\.py)`", "\n".join(rows)))


def new_migrations() -> list[Path]:
    before = set(previous_release.files("services"))
    return [
        path
        for path in sorted(REPO.glob("services/*/*/migrations/versions/*.py"))
        if str(path.relative_to(REPO)) not in before
    ]


def test_migrations_since_the_previous_release_are_additive() -> None:
    try:
        added = new_migrations()
    except previous_release.MissingHistory as exc:
        pytest.fail(str(exc))
    allowed = documented_contract_steps()
    breaking = {
        str(path.relative_to(REPO)): ops
        for path in added
        if (ops := breaking_operations(path.read_text()))
        and str(path.relative_to(REPO)) not in allowed
    }
    assert not breaking, (
        "migrations that would break the previous release's replicas (make them additive, or "
        f"list them as contract steps in docs/operations.md): {breaking}"
    )


def test_the_check_sees_what_breaks_old_code() -> None:
    source = """
def upgrade() -> None:
    op.add_column("users", sa.Column("nickname", sa.String(), nullable=True))
    op.add_column("users", sa.Column("plan", sa.String(), nullable=False, server_default="free"))
    op.create_index("ix_users_plan", "users", ["plan"])
    op.add_column("users", sa.Column("tier", sa.String(), nullable=False))
    op.drop_column("users", "bio")
    op.alter_column("users", "name", new_column_name="full_name")
    op.execute("ALTER TABLE users ALTER COLUMN email SET NOT NULL")

def downgrade() -> None:
    op.drop_column("users", "nickname")
"""
    assert [f.split(": ", 1)[1] for f in breaking_operations(source)] == [
        "add_column NOT NULL without server_default",
        "drop_column",
        "alter_column renames, tightens or retypes",
        "SQL 'SET NOT NULL'",
    ]
