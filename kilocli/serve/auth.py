"""Who may call kilo serve: loopback by default; any other address needs a bearer token.

The token comes from an environment variable named by ``--token-env`` (never from the command
line, where ``ps`` shows it). It is checked on every request, in constant time, from
``Authorization: Bearer ...`` (OpenAI SDKs) or ``x-api-key`` (Anthropic SDKs).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from kilocli.errors import UsageError

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MIN_TOKEN_CHARS = 16


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def resolve_token(host: str, token_env: str | None, env: Mapping[str, str]) -> str | None:
    """The token to require, or None (loopback without --token-env); UsageError when a
    non-loopback bind has no usable token."""
    if token_env is None:
        if not is_loopback(host):
            raise UsageError(
                f"--host {host}: binding a non-loopback address needs a bearer token: "
                "set one in an environment variable and pass --token-env NAME"
            )
        return None
    token = env.get(token_env, "")
    if len(token.strip()) < MIN_TOKEN_CHARS:
        raise UsageError(
            f"--token-env {token_env}: the variable must hold a token of at least "
            f"{MIN_TOKEN_CHARS} characters"
        )
    return token.strip()


def presented_token(headers: Mapping[bytes, bytes]) -> str | None:
    auth = headers.get(b"authorization", b"").decode("latin-1").strip()
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    key = headers.get(b"x-api-key")
    return key.decode("latin-1").strip() if key else None


def token_matches(presented: str | None, expected: str) -> bool:
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


class BearerAuth:
    """ASGI middleware: every HTTP request must carry the token, else 401 (OpenAI-shaped)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if token_matches(presented_token(headers), self.token):
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "error": {
                    "message": "missing or wrong bearer token (Authorization: Bearer ...)",
                    "type": "authentication_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b"Bearer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
