"""The previous release's code, for the upgrade tests: its commit is pinned in
deploy/previous-release and read from git history, so the tests work on a fresh clone (a
shallow one lacks the commit: they then fail and say how to fetch it)."""

from __future__ import annotations

import io
import subprocess  # nosec B404 - git, with fixed arguments
import tarfile
from pathlib import Path

# libs/common/parley_common/testing/ → the repository (the workspace installs it editable).
REPO = Path(__file__).resolve().parents[4]
PIN = REPO / "deploy" / "previous-release"
#: The import roots of a checkout, as the workspace's editable installs put them on sys.path.
IMPORT_ROOTS = (
    ".",
    "libs/common",
    "libs/client",
    "services/auth",
    "services/chat",
    "services/notify",
    "services/gateway",
)


class MissingHistory(RuntimeError):
    """The pinned commit is not in this clone."""


def commit() -> str:
    lines = [ln.strip() for ln in PIN.read_text().splitlines()]
    pinned = [ln for ln in lines if ln and not ln.startswith("#")]
    assert len(pinned) == 1 and len(pinned[0]) == 40, f"{PIN}: one full commit hash expected"
    return pinned[0]


def _git(*args: str) -> bytes:
    try:
        return subprocess.run(  # nosec B603 B607 - git from PATH, fixed arguments
            ["git", *args], cwd=REPO, check=True, capture_output=True
        ).stdout
    except subprocess.CalledProcessError as exc:
        raise MissingHistory(
            f"`git {' '.join(args)}` failed ({exc.stderr.decode().strip()}): the previous "
            f"release {commit()} (deploy/previous-release) must be in this clone's history; "
            "in a shallow clone run `git fetch --unshallow`"
        ) from exc


def files(path: str) -> list[str]:
    """The paths under `path` in the previous release."""
    out = _git("ls-tree", "-r", "--name-only", commit(), "--", path)
    return out.decode().split()


def export(dest: Path) -> Path:
    """The previous release's tracked files under `dest` (git archive: no worktree to clean
    up, nothing in .git changes)."""
    archive = _git("archive", "--format=tar", commit())
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def pythonpath(tree: Path) -> str:
    """PYTHONPATH that makes `tree`'s packages shadow this checkout's editable installs (their
    .pth entries come after PYTHONPATH on sys.path)."""
    return ":".join(str(tree / root) for root in IMPORT_ROOTS)
