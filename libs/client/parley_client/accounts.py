"""Routes of auth: accounts, logins and tokens, profiles."""

from __future__ import annotations

from typing import Any

from .base import RestBase, raise_for
from .models import TokenPair, parse
from .wire import schemas

UserPublic = schemas.UserPublic
UserRead = schemas.UserRead
UserRef = schemas.UserRef


class AccountsApi(RestBase):
    # --- auth and users ------------------------------------------------------------------------

    async def register(self, username: str, email: str, password: str) -> UserPublic:
        body = await self.request(
            "POST",
            "/auth/register",
            json={"username": username, "email": email, "password": password},
            auth=False,
        )
        return parse(UserPublic, body, "POST /auth/register")

    async def login(self, username: str, password: str, *, path: str = "/auth/login") -> TokenPair:
        """Logs in (`path="/auth/token"` for the alias) and keeps the tokens."""
        body = await self.request(
            "POST", path, json={"username": username, "password": password}, auth=False
        )
        tokens = parse(TokenPair, body, f"POST {path}")
        self._keep(tokens)
        return tokens

    async def refresh(self, refresh_token: str | None = None) -> TokenPair:
        """Rotates the refresh token and keeps the new pair."""
        token = refresh_token or self.refresh_token
        if not token:
            raise ValueError("no refresh token")
        body = await self.request(
            "POST", "/auth/refresh", json={"refresh_token": token}, auth=False
        )
        tokens = parse(TokenPair, body, "POST /auth/refresh")
        self._keep(tokens)
        return tokens

    async def refresh_if_stale(self, stale_access_token: str | None) -> None:
        """Refreshes unless someone (another socket, a concurrent request) already replaced
        `stale_access_token`: a refresh token is single-use, and reusing it revokes the
        whole session, so concurrent refreshes must collapse into one."""
        async with self._refresh_lock:
            if self.access_token == stale_access_token:
                await self.refresh()

    def _keep(self, tokens: TokenPair) -> None:
        self.access_token = tokens.access_token
        if tokens.refresh_token:
            self.refresh_token = tokens.refresh_token

    async def logout(self, refresh_token: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = await self.request(
            "POST", "/auth/logout", json={"refresh_token": refresh_token or self.refresh_token}
        )
        return body

    async def me(self, *, path: str = "/users/me") -> UserRead:
        """The caller (`path="/auth/me"` for the alias)."""
        self.user = await self._get(UserRead, path)
        return self.user

    async def update_me(self, *, username: str, email: str) -> UserRead:
        body = await self.request("PUT", "/users/me", json={"username": username, "email": email})
        return parse(UserRead, body, "PUT /users/me")

    async def set_avatar(self, data: bytes, filename: str = "avatar.jpg") -> UserRead:
        """Uploads an image as the caller's avatar (the server re-encodes it square)."""
        response = await self._send(
            "PUT",
            "/users/me/avatar",
            files={"file": (filename, data, "application/octet-stream")},
            headers=self._auth_headers(),
        )
        if response.status_code >= 400:
            raise_for(response)
        self.user = parse(UserRead, response.json(), "PUT /users/me/avatar")
        return self.user

    async def remove_avatar(self) -> UserRead:
        body = await self.request("DELETE", "/users/me/avatar")
        self.user = parse(UserRead, body, "DELETE /users/me/avatar")
        return self.user

    async def change_password(self, current_password: str, new_password: str) -> dict[str, Any]:
        body: dict[str, Any] = await self.request(
            "PUT",
            "/users/me/password",
            json={"current_password": current_password, "new_password": new_password},
        )
        return body

    async def search_users(self, q: str) -> list[UserRef]:
        return await self._get(list[UserRef], "/users", params={"q": q})

    async def jwks(self) -> dict[str, Any]:
        body: dict[str, Any] = await self.request("GET", "/.well-known/jwks.json", auth=False)
        return body

    async def health(self) -> dict[str, Any]:
        body: dict[str, Any] = await self.request("GET", "/health", auth=False)
        return body
