"""The wire models: REST bodies (`schemas`) and WebSocket frames (`frames`).

They are parley_common's, the ones the services use. In the workspace they are imported from
there (one set of classes everywhere); a parley-client installed on its own (`pip install
./libs/client`) has the same two files in `parley_client._wire`, copied into its wheel."""

from __future__ import annotations

try:
    from parley_common import frames, schemas
except ImportError:  # installed on its own
    from ._wire import frames, schemas  # type: ignore[no-redef, attr-defined]

__all__ = ["frames", "schemas"]
