"""RIS Live messages: the pure parser and the capture-file reader (no network, no asyncio).

The websocket client is :mod:`tui.feeds.ris_live`; what it receives goes through the same
:func:`parse_message`. Kept apart so that reading a capture file (``snapshot``, ``replay``)
does not import asyncio, ssl and the client at every start.

The parser turns one RIS Live envelope (``{"type": ..., "data": {...}}``, SPECS.md A.2-A.6) into
core events. It is pure: no I/O, no clock. What each message becomes:

==================================  =========================================================
``ris_message`` UPDATE              one :class:`RouteWithdrawn` per withdrawn prefix, then one
                                    :class:`RouteAnnounced` per announced prefix. An IPv6
                                    prefix listed under a global and a link-local (``fe80::``)
                                    next hop gives ONE announcement, with the global next hop.
                                    An UPDATE with neither (End-of-RIB) gives a :class:`PeerSeen`.
``ris_message`` RIS_PEER_STATE      :class:`PeerStateChanged`: ``connected`` -> ESTABLISHED,
                                    ``down`` -> IDLE (old state ``UNKNOWN``: RIS does not say).
``ris_message`` KEEPALIVE           :class:`PeerSeen` (keepalives flow only on a live session).
``ris_message`` OPEN, NOTIFICATION  nothing: an OPEN does not yet mean Established, and a
                                    NOTIFICATION is followed by RIS_PEER_STATE ``down``, which is
                                    what changes the session's state.
``ris_error``                       :class:`FeedStatus` with state ``"error"`` and the server's
                                    text as detail. Chosen over :class:`RecordRejected` because
                                    it is the server speaking about the feed (a refused
                                    subscription, a client too slow), not a record we failed to
                                    read; ``"error"`` does not mark any peer unknown (only
                                    ``down``/``gap`` do), and the engine logs it as a warning.
``pong``, ``ris_subscribe_ok``,     nothing (protocol chatter).
``ris_rrc_list``
==================================  =========================================================

Everything else (not JSON, not an envelope, a field of the wrong type, an unknown message type,
a prefix or ASN that does not parse) raises :class:`RisLiveParseError` with the reason. Callers
turn that into a :class:`RecordRejected`: counted and reported, never fatal.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Callable, Iterator
from functools import lru_cache
from os import PathLike
from pathlib import Path
from typing import IO, Any

from tui.core.aspath import ASPath, ASPathError, path_from_json
from tui.core.events import (
    ESTABLISHED,
    Event,
    FeedStatus,
    PeerSeen,
    PeerStateChanged,
    RecordRejected,
    RouteAnnounced,
    RouteWithdrawn,
)
from tui.core.prefixes import Prefix, PrefixError

__all__ = [
    "DEFAULT_SOURCE",
    "CAPTURE_SOURCE",
    "RisLiveParseError",
    "parse_message",
    "read_capture",
    "excerpt",
    "normalise_host",
]

DEFAULT_SOURCE = "ris-live"
CAPTURE_SOURCE = "ris-live-capture"

_PEER_STATES = {
    "connected": ESTABLISHED,
    "established": ESTABLISHED,
    "up": ESTABLISHED,
    "down": "IDLE",
    "idle": "IDLE",
}
_SILENT_TYPES = frozenset({"pong", "ris_subscribe_ok", "ris_rrc_list"})
_MAX_ASN = 0xFFFFFFFF


class RisLiveParseError(ValueError):
    """A RIS Live message could not be read; the message says what was wrong."""


def excerpt(text: str | bytes, limit: int = 160) -> str:
    """A short, terminal-safe excerpt of untrusted input (control characters escaped)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    short = text[:limit]
    safe = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in short)
    return safe + ("…" if len(text) > limit else "")


def normalise_host(host: object) -> str:
    """``"rrc00.ripe.net"`` -> ``"rrc00"``; raises :class:`RisLiveParseError` on a non-string."""
    if not isinstance(host, str) or not host.strip():
        raise RisLiveParseError(f"host must be a collector name, got {excerpt(repr(host), 40)}")
    name = host.strip().lower()
    if name.endswith(".ripe.net"):
        name = name[: -len(".ripe.net")]
    return name


@lru_cache(maxsize=65536)
def _prefix(text: str) -> Prefix:
    # Prefixes repeat a lot in a stream; parsing each once is the cheap path.
    return Prefix.parse(text)


@lru_cache(maxsize=8192)
def _address(text: str) -> str:
    return ipaddress.ip_address(text).compressed


def _peer_address(value: object, what: str = "peer") -> str:
    if not isinstance(value, str):
        raise RisLiveParseError(f"{what} must be an IP address string, got {excerpt(repr(value), 40)}")
    try:
        return _address(value.strip())
    except ValueError:
        raise RisLiveParseError(f"{what} is not an IP address: {excerpt(value, 60)}") from None


def _asn(value: object, what: str) -> int:
    # peer_asn arrives as a string ("11708"); be lenient about an int, strict about the range.
    if isinstance(value, bool):
        raise RisLiveParseError(f"{what} must be an ASN, got {value!r}")
    if isinstance(value, str):
        text = value.strip().upper().removeprefix("AS")
        if not text.isdigit():
            raise RisLiveParseError(f"{what} is not an ASN: {excerpt(value, 40)}")
        asn = int(text)
    elif isinstance(value, int):
        asn = value
    else:
        raise RisLiveParseError(f"{what} must be an ASN, got {excerpt(repr(value), 40)}")
    if not 0 <= asn <= _MAX_ASN:
        raise RisLiveParseError(f"{what} out of range: {asn}")
    return asn


def _timestamp(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RisLiveParseError(f"timestamp must be a number, got {excerpt(repr(value), 40)}")
    ts = float(value)
    if not math.isfinite(ts) or ts < 0:
        raise RisLiveParseError(f"timestamp out of range: {value!r}")
    return ts


def _prefix_of(value: object, where: str) -> Prefix:
    if not isinstance(value, str):
        raise RisLiveParseError(f"{where}: prefix must be a string, got {excerpt(repr(value), 40)}")
    try:
        return _prefix(value)
    except PrefixError:
        raise RisLiveParseError(f"{where}: not an IP prefix: {excerpt(value, 60)}") from None


def _communities(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise RisLiveParseError(f"community must be a list of [asn, value] pairs, got {excerpt(repr(value), 60)}")
    out = []
    for pair in value:
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 0xFFFF for x in pair)
        ):
            raise RisLiveParseError(f"community entry is not an [asn, value] pair of 16-bit ints: {excerpt(repr(pair), 60)}")
        out.append(f"{pair[0]}:{pair[1]}")
    return tuple(out)


def _path(value: object) -> ASPath:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise RisLiveParseError(f"path must be a list, got {excerpt(repr(value), 60)}")
    for element in value:
        if isinstance(element, bool) or not isinstance(element, int | list):
            raise RisLiveParseError(f"path element is neither an ASN nor an AS_SET: {excerpt(repr(element), 40)}")
        if isinstance(element, list) and not all(isinstance(x, int) and not isinstance(x, bool) for x in element):
            raise RisLiveParseError(f"AS_SET holds something other than ASNs: {excerpt(repr(element), 60)}")
    try:
        return path_from_json(value)
    except ASPathError as exc:
        raise RisLiveParseError(f"path: {exc}") from None


def _is_link_local(address: str) -> bool:
    return address.lower().startswith("fe80:")


def _best_next_hop(value: object) -> tuple[str, bool]:
    """The next hop to keep from one announcement entry, and whether it is link-local only.

    Some messages carry both addresses in one string (``"2001:db8::1,fe80::1"``).
    """
    if not isinstance(value, str):
        raise RisLiveParseError(f"next_hop must be a string, got {excerpt(repr(value), 40)}")
    hops = [_peer_address(h, "next_hop") for h in value.split(",") if h.strip()]
    if not hops:
        return "", False
    for hop in hops:
        if not _is_link_local(hop):
            return hop, False
    return hops[0], True


def _update(data: dict[str, Any], common: tuple[float, str, str, int], source: str) -> list[Event]:
    ts, collector, peer_ip, peer_asn = common
    events: list[Event] = []
    withdrawals = data.get("withdrawals") or []
    if not isinstance(withdrawals, list):
        raise RisLiveParseError(f"withdrawals must be a list, got {excerpt(repr(withdrawals), 60)}")
    for text in withdrawals:
        prefix = _prefix_of(text, "withdrawals")
        events.append(RouteWithdrawn(ts, collector, peer_ip, peer_asn, prefix, source))
    announcements = data.get("announcements") or []
    if not isinstance(announcements, list):
        raise RisLiveParseError(f"announcements must be a list, got {excerpt(repr(announcements), 60)}")
    # prefix -> (next hop, link-local only). Insertion order keeps the message's prefix order.
    chosen: dict[Prefix, tuple[str, bool]] = {}
    for entry in announcements:
        if not isinstance(entry, dict):
            raise RisLiveParseError(f"announcement must be an object, got {excerpt(repr(entry), 60)}")
        hop = _best_next_hop(entry.get("next_hop", ""))
        prefixes = entry.get("prefixes")
        if not isinstance(prefixes, list):
            raise RisLiveParseError(f"announcement without a prefixes list: {excerpt(repr(entry), 80)}")
        for text in prefixes:
            prefix = _prefix_of(text, "announcements")
            known = chosen.get(prefix)
            # A global next hop wins over a link-local one for the same prefix, whichever came first.
            if known is None or (known[1] and not hop[1]):
                chosen[prefix] = hop
    if chosen:
        path = _path(data.get("path"))
        communities = _communities(data.get("community"))
        for prefix, (next_hop, _) in chosen.items():
            events.append(
                RouteAnnounced(ts, collector, peer_ip, peer_asn, prefix, path, next_hop, communities, source)
            )
    if not events:
        # End-of-RIB or an attribute-only update: still proof that the session is alive.
        events.append(PeerSeen(ts, collector, peer_ip, peer_asn, source))
    return events


def _ris_message(data: object, source: str) -> list[Event]:
    if not isinstance(data, dict):
        raise RisLiveParseError(f"ris_message data must be an object, got {excerpt(repr(data), 60)}")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise RisLiveParseError("ris_message without a type")
    for key in ("timestamp", "peer", "peer_asn", "host"):
        if key not in data:
            raise RisLiveParseError(f"ris_message {excerpt(kind, 20)} without {key}")
    common = (
        _timestamp(data["timestamp"]),
        normalise_host(data["host"]),
        _peer_address(data["peer"]),
        _asn(data["peer_asn"], "peer_asn"),
    )
    ts, collector, peer_ip, peer_asn = common
    upper = kind.upper()
    if upper == "UPDATE":
        return _update(data, common, source)
    if upper == "RIS_PEER_STATE":
        state = data.get("state")
        new_state = _PEER_STATES.get(state.lower()) if isinstance(state, str) else None
        if new_state is None:
            raise RisLiveParseError(f"RIS_PEER_STATE with unknown state {excerpt(repr(state), 40)}")
        return [PeerStateChanged(ts, collector, peer_ip, peer_asn, "UNKNOWN", new_state, source)]
    if upper == "KEEPALIVE":
        return [PeerSeen(ts, collector, peer_ip, peer_asn, source)]
    if upper in ("OPEN", "NOTIFICATION"):
        return []
    raise RisLiveParseError(f"unknown ris_message type {excerpt(kind, 40)!r}")


def parse_message(
    line: str | bytes | dict[str, Any], *, source: str = DEFAULT_SOURCE, received: float | None = None
) -> list[Event]:
    """Turn one RIS Live envelope into events; raises :class:`RisLiveParseError`.

    ``received`` is the time stamped on events from messages that carry none (``ris_error``);
    without it they get 0.0. ``source`` names the feed on every event (the engine marks that
    feed's peers unknown while it is down).
    """
    if isinstance(line, dict):
        message: object = line
    else:
        try:
            message = json.loads(line)
        except (ValueError, TypeError) as exc:
            # ValueError covers JSONDecodeError and undecodable bytes.
            raise RisLiveParseError(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise RisLiveParseError(f"not a RIS Live envelope (a JSON object): {excerpt(repr(message), 60)}")
    kind = message.get("type")
    if not isinstance(kind, str):
        raise RisLiveParseError("envelope without a type")
    data = message.get("data")
    if kind == "ris_message":
        return _ris_message(data, source)
    if kind == "ris_error":
        text = data.get("message") if isinstance(data, dict) else data
        detail = excerpt(str(text) if text is not None else "(no message)", 400)
        return [FeedStatus(received or 0.0, source, "error", f"RIS Live error: {detail}")]
    if kind in _SILENT_TYPES:
        return []
    raise RisLiveParseError(f"unknown message type {excerpt(kind, 40)!r}")


def read_capture(
    path: str | PathLike[str],
    *,
    source: str = CAPTURE_SOURCE,
    batch_size: int = 500,
    opener: Callable[[], IO[bytes]] | None = None,
) -> Iterator[list[Event]]:
    """Read a RIS Live capture (one JSON envelope per line) as batches of events.

    A broken line becomes a :class:`RecordRejected` at ``path:lineno`` and reading goes on;
    blank lines are skipped. Events without a time of their own get the last time seen.
    ``opener`` gives the lines' byte stream when it is not the plain file (a decompressor);
    a stream that ends early (damaged gzip/bzip2) is reported the same way, keeping what was read.
    """
    file = Path(path)
    batch: list[Event] = []
    last_ts = 0.0
    lineno = 0
    try:
        with opener() if opener is not None else file.open("rb") as handle:
            for lineno, raw in enumerate(handle, 1):
                if not raw.strip():
                    continue
                try:
                    events = parse_message(raw, source=source, received=last_ts)
                except RisLiveParseError as exc:
                    events = [RecordRejected(last_ts, source, f"{file}:{lineno}", str(exc), excerpt(raw.strip()))]
                for event in events:
                    last_ts = max(last_ts, event.ts)
                batch.extend(events)
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
    except (OSError, EOFError) as exc:
        batch.append(RecordRejected(last_ts, source, f"{file}:{lineno + 1}", f"file ends early: {exc}"))
    if batch:
        yield batch
