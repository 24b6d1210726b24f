"""Frames are serialized once (orjson) and the same bytes are written to every target socket."""

from __future__ import annotations

import orjson

from parley_common.frames import Frame


def encode_bytes(frame: Frame) -> bytes:
    return orjson.dumps(frame.model_dump(mode="json"))


def encode(frame: Frame) -> str:
    return encode_bytes(frame).decode()
