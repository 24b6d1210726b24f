"""The request dependencies every service shares, as Annotated aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from .db import unit_of_work
from .runtime import runtime_of


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session: committed when the route returns, rolled back when it raises
    (parley_common.db.unit_of_work)."""
    async with unit_of_work(runtime_of(request.app.state).sessionmaker) as session:
        yield session


# scope="function": commit before the response is sent, so a failed commit is the answer and a
# client's next call sees the change.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
