"""The bus's wire contract: URLs, subjects, message ids and heartbeats (pure, no I/O).

Every event travels as one message whose payload is :func:`~tui.core.events.event_to_json`.
Subjects say what kind of thing it is, so a console can subscribe to part of the stream::

    <root>.route.<collector>     announce, withdraw, bulk, peer_state, peer_seen (BGP collector, e.g. rrc00)
    <root>.route._full_feed      full_feed declarations (they span collectors)
    <root>.dns.<zone>            DNS probe results; dots become underscores, "kp." -> "kp"
    <root>.finding.<watch>       detector findings
    <root>.watch.<watch>         a watch grown by RIPEstat (watch_expanded: an ASN's or country's prefixes)
    <root>.feed.<feed>           feed health and rejected records
    <root>.heartbeat.<instance>  a collector saying it is alive (see :class:`Heartbeat`)

Every message carries ``Nats-Msg-Id``: the collector instance's name, a digest of the event's
JSON and how many identical events that instance sent before it. The same instance
re-publishing the same events (after a restart, or retrying after a lost ack) produces the same
ids, so JetStream's duplicate window drops them; two identical events in a row (a flap inside
one second of an MRT file) still get distinct ids.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tui.core.events import (
    BulkRoutes,
    DnsProbeResult,
    Event,
    FeedStatus,
    Finding,
    FullFeedPeers,
    PeerSeen,
    PeerStateChanged,
    RecordRejected,
    RouteAnnounced,
    RouteWithdrawn,
    WatchExpanded,
)

__all__ = [
    "BusError",
    "BusAddress",
    "Heartbeat",
    "MessageIds",
    "DEFAULT_ROOT",
    "DEFAULT_STREAM",
    "HEADER_MSG_ID",
    "HEADER_INSTANCE",
    "HEADER_SHARD",
    "parse_bus_url",
    "redact_url",
    "subject_token",
    "subject_for",
    "heartbeat_subject",
    "instance_of_subject",
]

DEFAULT_ROOT = "watchfloor"
"""First token of every subject."""
DEFAULT_STREAM = "WATCHFLOOR"
"""JetStream stream that holds ``<root>.>``."""

HEADER_MSG_ID = "Nats-Msg-Id"
"""JetStream's de-duplication header."""
HEADER_INSTANCE = "Watchfloor-Instance"
"""Which collector instance published the message."""
HEADER_SHARD = "Watchfloor-Shard"
"""``K/N`` when the instance watches one shard of the watchlist."""

_TOKEN_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_MAX_TOKEN = 64
_STREAM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class BusError(ValueError):
    """A bus URL, stream name or received message is not what the bus contract says."""


# -- addresses ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BusAddress:
    """Where the bus is: server URLs, the stream, and the subject root."""

    servers: tuple[str, ...]
    stream: str = DEFAULT_STREAM
    root: str = DEFAULT_ROOT

    @property
    def display(self) -> str:
        """The servers without credentials, for messages and the console."""
        return ",".join(redact_url(s) for s in self.servers)


def parse_bus_url(text: str) -> BusAddress:
    """Parse ``nats://HOST:PORT[,nats://HOST2:PORT][?stream=NAME&root=TOKEN]``; raises BusError.

    Several comma-separated servers form one cluster (the client fails over between them).
    """
    raw = text.strip()
    if not raw:
        raise BusError("empty bus URL (expected nats://HOST:PORT)")
    base, _, query = raw.partition("?")
    options = parse_qs(query, keep_blank_values=True) if query else {}
    unknown = sorted(set(options) - {"stream", "root"})
    if unknown:
        raise BusError(f"unknown bus URL option {unknown[0]!r} in {redact_url(raw)} (known: stream, root)")
    servers = []
    for part in base.split(","):
        part = part.strip()
        if not part:
            continue
        if "://" not in part:
            part = f"nats://{part}"
        try:
            split = urlsplit(part)
            port = split.port
        except ValueError as exc:
            raise BusError(f"bad bus URL {redact_url(part)}: {exc}") from None
        if split.scheme not in ("nats", "tls"):
            raise BusError(f"bad bus URL {redact_url(part)}: scheme must be nats:// or tls://")
        if not split.hostname:
            raise BusError(f"bad bus URL {redact_url(part)}: no host (expected nats://HOST:PORT)")
        if split.path not in ("", "/"):
            raise BusError(f"bad bus URL {redact_url(part)}: unexpected path {split.path!r}")
        if port is None:
            part = part.rstrip("/") + ":4222"
        servers.append(part.rstrip("/"))
    if not servers:
        raise BusError(f"no server in bus URL {redact_url(raw)!r}")
    stream = options.get("stream", [DEFAULT_STREAM])[-1]
    root = options.get("root", [DEFAULT_ROOT])[-1]
    if not _STREAM_NAME.match(stream):
        raise BusError(f"bad stream name {stream!r}: use letters, digits, '_' or '-' (at most 64)")
    if not _STREAM_NAME.match(root):
        raise BusError(f"bad subject root {root!r}: use letters, digits, '_' or '-' (one token)")
    return BusAddress(tuple(servers), stream, root)


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@`` (messages must not leak secrets)."""
    return re.sub(r"(?<=://)[^/@]*@", "***@", url)


# -- subjects -----------------------------------------------------------------------------------


def subject_token(text: str) -> str:
    """``text`` as one safe subject token: letters, digits, ``_`` and ``-`` only, never empty.

    NATS tokens may not contain dots, spaces or wildcards; anything else becomes ``_``. Long
    names are cut and given a digest suffix so that two long names stay distinct.
    """
    token = _TOKEN_UNSAFE.sub("_", text)
    if len(token) > _MAX_TOKEN:
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
        token = f"{token[: _MAX_TOKEN - 9]}-{digest}"
    return token or "_"


def _zone_token(zone: str) -> str:
    name = zone.strip().rstrip(".")
    return subject_token(name.replace(".", "_")) if name else "_root"


def subject_for(event: Event, root: str = DEFAULT_ROOT) -> str:
    """The subject ``event`` is published on (see the module docstring)."""
    if isinstance(event, RouteAnnounced | RouteWithdrawn | BulkRoutes | PeerStateChanged | PeerSeen):
        return f"{root}.route.{subject_token(event.collector)}"
    if isinstance(event, WatchExpanded):
        return f"{root}.watch.{subject_token(event.watch)}"
    if isinstance(event, FullFeedPeers):
        return f"{root}.route._full_feed"
    if isinstance(event, DnsProbeResult):
        return f"{root}.dns.{_zone_token(event.zone)}"
    if isinstance(event, Finding):
        return f"{root}.finding.{subject_token(event.watch) if event.watch else '_none'}"
    if isinstance(event, FeedStatus | RecordRejected):
        return f"{root}.feed.{subject_token(event.feed)}"
    return f"{root}.other.{subject_token(getattr(event, 'KIND', 'unknown'))}"


def heartbeat_subject(instance: str, root: str = DEFAULT_ROOT) -> str:
    """The subject collector ``instance`` sends its heartbeats on."""
    return f"{root}.heartbeat.{subject_token(instance)}"


def instance_of_subject(subject: str, root: str = DEFAULT_ROOT) -> str | None:
    """The instance token of a heartbeat subject, or None for any other subject."""
    prefix = f"{root}.heartbeat."
    return subject[len(prefix) :] if subject.startswith(prefix) else None


# -- message ids --------------------------------------------------------------------------------


class MessageIds:
    """Deterministic ``Nats-Msg-Id`` values for one collector instance.

    The id is ``<instance>:<digest of the event JSON>:<occurrence>``. Occurrences are counted
    per digest for events within ``horizon`` seconds (event time) of the newest one seen; an
    event older than that cannot recur except in a re-publication from the start, which counts
    the same way again.
    """

    def __init__(self, instance: str, horizon: float = 3600.0) -> None:
        self.instance = subject_token(instance)
        self.horizon = horizon
        self._counts: dict[str, int] = {}
        self._order: deque[tuple[float, str]] = deque()
        self._newest = float("-inf")

    def next_id(self, payload: bytes, ts: float) -> str:
        """The id of the next message carrying ``payload`` (an event with time ``ts``)."""
        digest = hashlib.blake2b(payload, digest_size=12).hexdigest()
        count = self._counts.get(digest, 0)
        self._counts[digest] = count + 1
        if count == 0:
            self._order.append((ts, digest))
        if ts > self._newest:
            self._newest = ts
            self._forget_before(ts - self.horizon)
        return f"{self.instance}:{digest}:{count}"

    def _forget_before(self, cutoff: float) -> None:
        # Digests are queued in arrival order, which is close to (not exactly) event order:
        # an out-of-order straggler is simply forgotten a little later.
        while self._order and self._order[0][0] < cutoff:
            _, digest = self._order.popleft()
            self._counts.pop(digest, None)

    def __len__(self) -> int:
        return len(self._counts)


# -- heartbeats ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A collector instance saying "alive" (every ``interval`` s) or "stopped" (clean exit)."""

    instance: str
    ts: float
    interval: float
    state: str = "alive"
    shard: str = ""
    published: int = 0
    dropped: int = 0

    def to_json(self) -> bytes:
        """The message payload."""
        data: dict[str, Any] = {
            "instance": self.instance,
            "ts": self.ts,
            "interval": self.interval,
            "state": self.state,
            "shard": self.shard,
            "published": self.published,
            "dropped": self.dropped,
        }
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, payload: bytes) -> Heartbeat:
        """Parse a heartbeat payload; raises :class:`BusError`."""
        try:
            data = json.loads(payload)
            beat = cls(
                instance=str(data["instance"]),
                ts=float(data["ts"]),
                interval=float(data["interval"]),
                state=str(data.get("state", "alive")),
                shard=str(data.get("shard", "")),
                published=int(data.get("published", 0)),
                dropped=int(data.get("dropped", 0)),
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise BusError(f"bad heartbeat: {exc!s:.120}") from None
        if not beat.interval > 0 or beat.state not in ("alive", "stopped"):
            raise BusError(f"bad heartbeat: interval {beat.interval!r}, state {beat.state[:20]!r}")
        return beat
