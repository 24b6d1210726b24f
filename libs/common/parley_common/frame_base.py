"""What every WebSocket frame shares: the base model, bounded ids and seqs, size limits and
close codes (PROTOCOL.md section 2, Errors and limits)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

#: Frames over this size close the socket with 1009.
MAX_FRAME_BYTES = 64 * 1024
#: The longest message content a `send_message` frame may carry (chat trims and checks again).
MAX_CONTENT_CHARS = 4000
#: Attachments one message may carry (PROTOCOL.md).
MAX_ATTACHMENTS = 10
#: The most conversations one `resume` frame may name.
MAX_RESUME_CURSORS = 1000

Id = Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]
Seq = Annotated[StrictInt, Field(ge=0, le=2**63 - 1)]


class Frame(BaseModel):
    """Base of every frame; `type` discriminates."""

    model_config = ConfigDict(extra="ignore")

    if TYPE_CHECKING:
        # Every concrete frame declares its own `type` Literal (the union's discriminator).
        type: str


# WebSocket close codes (PROTOCOL.md, Errors and limits).
CLOSE_NORMAL = 1000
CLOSE_TOO_BIG = 1009
CLOSE_RESTART = 1012
CLOSE_AUTH = 4001
CLOSE_TOO_SLOW = 4008
