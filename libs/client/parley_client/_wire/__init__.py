"""Copies of parley_common's schemas.py and frames.py, put here when the wheel is built
(pyproject.toml, force-include), so an installed parley-client needs nothing else of Parley.
In the workspace this folder holds only this file: wire.py imports parley_common instead."""
