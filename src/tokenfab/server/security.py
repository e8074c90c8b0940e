"""What keeps the app safe to run next to a lab: loopback by default, a token elsewhere, bounded input.

- `tokenfab serve` binds 127.0.0.1; on any other address it refuses to start without a token, and
  every /api/ request then carries it (`Authorization: Bearer TOKEN`, or `?token=` for downloads).
- Request bodies are capped (default 4 MB) before they are read whole.
- YAML from a request is parsed with alias expansion and nesting bounded, so an alias bomb of a few
  hundred bytes is refused at once instead of expanding to gigabytes.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

import yaml
from starlette.types import ASGIApp, Receive, Scope, Send

from tokenfab.errors import InputError

MAX_YAML_NODES = 200_000  # nodes after alias expansion
MAX_YAML_DEPTH = 64


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def excerpt(text: Any, limit: int = 120) -> str:
    s = str(text)
    return s if len(s) <= limit else s[:limit] + f"... ({len(s):,} characters)"


def load_yaml_text(text: str, what: str = "intent") -> Any:
    """YAML text to data with alias expansion and nesting bounded; InputError otherwise."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise InputError(f"not valid YAML{where}: {excerpt(getattr(exc, 'problem', exc))}", what) from None
    if node is None:
        return None
    count = 0
    stack = [(node, 1)]
    while stack:  # walk the node graph as the loader would expand it, aliases included
        n, depth = stack.pop()
        count += 1
        if count > MAX_YAML_NODES:
            raise InputError(f"the YAML expands to more than {MAX_YAML_NODES:,} values (aliases?); refused", what)
        if depth > MAX_YAML_DEPTH:
            raise InputError(f"the YAML nests deeper than {MAX_YAML_DEPTH} levels; refused", what)
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))
        elif isinstance(n, yaml.SequenceNode):
            stack.extend((v, depth + 1) for v in n.value)
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise InputError(f"not valid YAML: {excerpt(exc)}", what) from None


class Guard:
    """ASGI middleware: body-size cap for every request, token check for /api/ when a token is set."""

    def __init__(self, app: ASGIApp, token: str | None, max_body_bytes: int):
        self.app, self.token, self.max_body = app, token, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        path = scope.get("path", "")
        if self.token and path.startswith("/api/") and not self._authorized(headers, scope):
            await _error(send, 401, "a token is required: send 'Authorization: Bearer TOKEN' (or ?token=TOKEN)", "token")
            return
        length = headers.get("content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_body
            except ValueError:
                too_big = True
            if too_big:
                await _error(send, 413, f"request body over {self.max_body:,} bytes", "body")
                return
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_body:
                    raise _TooBig()
            return msg

        try:
            await self.app(scope, limited, send)
        except _TooBig:
            await _error(send, 413, f"request body over {self.max_body:,} bytes", "body")

    def _authorized(self, headers: dict[str, str], scope: Scope) -> bool:
        got = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not got:
            from urllib.parse import parse_qs

            got = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token") or [""])[0]
        return bool(got) and hmac.compare_digest(got.encode(), (self.token or "").encode())


class _TooBig(Exception):
    pass


async def _error(send: Send, status: int, message: str, field: str | None) -> None:
    import json

    body = json.dumps({"error": {"status": status, "field": field, "message": message, "accepted": None}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
