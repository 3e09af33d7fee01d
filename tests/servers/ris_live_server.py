"""A RIS Live server on loopback (the websockets library), scripted per connection.

It speaks the protocol the client uses: ``ris_subscribe`` (filters by type, prefix with more-
and less-specifics, and origin ``path`` patterns ``"<asn>$"``; ``ris_subscribe_ok`` when asked
to acknowledge), ``ping`` -> ``pong``. Each connection plays one script of steps: wait for
subscriptions, replay captured messages (only those a subscription matches, like the real
service), send a raw (broken) line, send a ``ris_error``, drop the TCP connection mid-stream.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection, serve


@dataclass(frozen=True)
class WaitSubscriptions:
    """Wait until this connection has received ``count`` subscriptions."""

    count: int


@dataclass(frozen=True)
class Send:
    """Send a captured envelope if any subscription matches it (like RIS Live does)."""

    message: dict[str, Any]


@dataclass(frozen=True)
class SendRaw:
    """Send text as it is, filter or not (a broken line, a ris_error)."""

    text: str


@dataclass(frozen=True)
class Drop:
    """Cut the TCP connection without a close frame (a network failure)."""


@dataclass(frozen=True)
class Close:
    """Close the websocket properly with ``code``."""

    code: int = 1001
    reason: str = "going away"


@dataclass(frozen=True)
class Hold:
    """Wait until the test releases this connection (``server.release.set()``)."""


@dataclass
class ConnectionLog:
    """What one connection saw and did."""

    path: str
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    pings: int = 0
    sent: int = 0
    filtered_out: int = 0


def _networks(value: Any) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    items = value if isinstance(value, list) else [value]
    return [ipaddress.ip_network(v, strict=False) for v in items]


def _prefix_matches(sub: dict[str, Any], prefixes: list[str]) -> bool:
    more = sub.get("moreSpecific", True)
    less = sub.get("lessSpecific", False)
    for net in _networks(sub["prefix"]):
        for text in prefixes:
            p = ipaddress.ip_network(text, strict=False)
            if p.version != net.version:
                continue
            if p == net or (more and p.subnet_of(net)) or (less and p.supernet_of(net)):
                return True
    return False


def _path_matches(pattern: Any, path: list[Any]) -> bool:
    # Only the forms the client sends: "<asn>$" (origin) and a bare ASN (anywhere).
    text = str(pattern)
    if not path:
        return False
    if text.endswith("$"):
        last = path[-1]
        asn = int(text[:-1])
        return asn in last if isinstance(last, list) else last == asn
    asn = int(text)
    return any(asn in x if isinstance(x, list) else x == asn for x in path)


def matches(sub: dict[str, Any], message: dict[str, Any]) -> bool:
    """Whether a RIS Live subscription filter selects ``message`` (an envelope)."""
    if message.get("type") != "ris_message":
        return True
    data = message["data"]
    if "type" in sub and sub["type"] != data.get("type"):
        return False
    if "host" in sub and sub["host"] != data.get("host"):
        return False
    if "peer" in sub and sub["peer"] != data.get("peer"):
        return False
    if "prefix" in sub:
        prefixes = list(data.get("withdrawals") or [])
        for ann in data.get("announcements") or []:
            prefixes.extend(ann.get("prefixes") or [])
        if not _prefix_matches(sub, prefixes):
            return False
    if "path" in sub and not _path_matches(sub["path"], data.get("path") or []):
        return False
    return True


class FakeRisLive:
    """Serve ``scripts[i]`` to the i-th connection (the last script is reused after that)."""

    def __init__(self, scripts: list[list[Any]], *, answer_pings: bool = True) -> None:
        self.scripts = scripts
        self.answer_pings = answer_pings
        self.connections: list[ConnectionLog] = []
        self.release = asyncio.Event()
        self.port = 0
        self._server: Any = None
        self._handlers: list[asyncio.Task[None]] = []

    @property
    def url(self) -> str:
        """ws:// URL of the server (loopback only)."""
        return f"ws://127.0.0.1:{self.port}/v1/ws/"

    async def __aenter__(self) -> FakeRisLive:
        self._server = await serve(self._handle, "127.0.0.1", 0, ping_interval=None)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        index = len(self.connections)
        log = ConnectionLog(ws.request.path if ws.request else "")
        self.connections.append(log)
        script = self.scripts[min(index, len(self.scripts) - 1)] if self.scripts else []
        got_subscription = asyncio.Event()
        reader = asyncio.ensure_future(self._read(ws, log, got_subscription))
        try:
            for step in script:
                if isinstance(step, WaitSubscriptions):
                    while len(log.subscriptions) < step.count:
                        got_subscription.clear()
                        await got_subscription.wait()
                elif isinstance(step, Send):
                    if any(matches(sub, step.message) for sub in log.subscriptions):
                        await ws.send(json.dumps(step.message))
                        log.sent += 1
                    else:
                        log.filtered_out += 1
                elif isinstance(step, SendRaw):
                    await ws.send(step.text)
                    log.sent += 1
                elif isinstance(step, Drop):
                    ws.transport.abort()
                    return
                elif isinstance(step, Close):
                    await ws.close(step.code, step.reason)
                    return
                elif isinstance(step, Hold):
                    await self.release.wait()
            await reader
        except Exception:
            pass
        finally:
            reader.cancel()

    async def _read(self, ws: ServerConnection, log: ConnectionLog, got: asyncio.Event) -> None:
        async for raw in ws:
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "ris_subscribe":
                sub = dict(message.get("data") or {})
                # socketOptions apply to the whole socket, and later ones override earlier ones.
                log.options.update(sub.pop("socketOptions", {}) or {})
                log.subscriptions.append(sub)
                got.set()
                if log.options.get("acknowledge"):
                    await ws.send(
                        json.dumps({"type": "ris_subscribe_ok", "data": {"subscription": sub, "socketOptions": log.options}})
                    )
            elif kind == "ping":
                log.pings += 1
                if self.answer_pings:
                    await ws.send(json.dumps({"type": "pong", "data": None}))
