"""Frames are serialized once (orjson) and the same text is written to every target socket."""

from __future__ import annotations

import orjson

from parley_common.frames import Frame


def encode(frame: Frame) -> str:
    return orjson.dumps(frame.model_dump(mode="json")).decode()
