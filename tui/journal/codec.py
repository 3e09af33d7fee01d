"""How the journal stores events and checkpoints: compact where a whole table makes it big.

Rows. An event row's payload is the event's JSON (:func:`~tui.core.events.event_to_json`),
except :class:`~tui.core.events.BulkRoutes`, the form a whole table travels in (tens of
thousands of rows, each with the prefixes of one UPDATE): those are packed as binary, the
prefixes as runs of wire keys and the path attributes as the bytes they came in, about a fifth
of their JSON. The first byte tells the two apart (``{`` is JSON; :data:`BULK_TAG`).

Checkpoints. :func:`encode_checkpoint` writes the engine's checkpoint dict as one zlib stream:
a JSON header in which every ``bytes`` value (the route table's key runs and columns) is a
reference ``{"$bytes": N}`` to the N-th binary section that follows it. The route table is
thus stored as a few large byte strings instead of a list per route, and restored with C-level
passes over them (see :meth:`tui.core.routes.RouteState.from_snapshot`).

Every decoding error is a :class:`CodecError` naming what was wrong.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

from tui.core.attributes import PathAttributes
from tui.core.events import BulkRoutes, Event, EventDecodeError, event_from_dict, event_to_json
from tui.core.wirekeys import WireKeyError, join_wire_keys, split_wire_keys

__all__ = [
    "BULK_TAG", "CodecError", "checkpoint_frame", "compress_checkpoint", "decode_checkpoint", "decode_event",
    "encode_checkpoint", "encode_event",
]

BULK_TAG = 0x42
"""First byte (``B``) of a packed :class:`BulkRoutes` row."""

_BULK = struct.Struct("<BdBBIIIIHHH")
"""tag, ts, version, flags, peer ASN, then the lengths: announced keys, withdrawn keys,
attributes, collector, peer address, source."""
_VIA_MP, _ASN4, _HAS_ATTRIBUTES = 1, 2, 4

_MAGIC = b"WFCP1\n"
"""First bytes of an uncompressed checkpoint: this format, version 1."""
_LENGTH = struct.Struct("<I")


class CodecError(ValueError):
    """A stored row or checkpoint cannot be decoded."""


def encode_event(event: Event) -> bytes:
    """The payload of one event row."""
    if isinstance(event, BulkRoutes):
        attributes = event.attributes
        blob = attributes.blob if attributes is not None else b""
        flags = (_VIA_MP if event.via_mp else 0) | (
            (_HAS_ATTRIBUTES | (_ASN4 if attributes.asn4 else 0)) if attributes is not None else 0
        )
        announced = join_wire_keys(event.announced)
        withdrawn = join_wire_keys(event.withdrawn)
        collector = event.collector.encode()
        peer_ip = event.peer_ip.encode()
        source = event.source.encode()
        head = _BULK.pack(
            BULK_TAG, event.ts, event.version, flags, event.peer_asn, len(announced), len(withdrawn), len(blob),
            len(collector), len(peer_ip), len(source),
        )
        return b"".join((head, collector, peer_ip, source, blob, announced, withdrawn))
    return event_to_json(event).encode()


def decode_event(payload: bytes | str) -> Event:
    """Inverse of :func:`encode_event` (a ``str`` is a JSON row of an older journal)."""
    if isinstance(payload, bytes) and payload[:1] == b"B":
        return _decode_bulk(payload)
    try:
        return event_from_dict(json.loads(payload))
    except (ValueError, EventDecodeError) as exc:
        raise CodecError(str(exc)) from None


def _decode_bulk(payload: bytes) -> BulkRoutes:
    try:
        (_, ts, version, flags, peer_asn, n_announced, n_withdrawn, n_blob, n_collector, n_ip, n_source) = _BULK.unpack_from(
            payload
        )
    except struct.error:
        raise CodecError(f"bulk row of {len(payload)} octets is shorter than its header") from None
    pos = _BULK.size
    ends = []
    for size in (n_collector, n_ip, n_source, n_blob, n_announced, n_withdrawn):
        ends.append((pos, pos + size))
        pos += size
    if pos != len(payload):
        raise CodecError(f"bulk row holds {len(payload)} octets, its header accounts for {pos}")
    if version not in (4, 6):
        raise CodecError(f"bulk row for IP version {version}")
    (c0, c1), (i0, i1), (s0, s1), (b0, b1), (a0, a1), (w0, w1) = ends
    try:
        announced = split_wire_keys(payload, version, a0, a1)
        withdrawn = split_wire_keys(payload, version, w0, w1)
        collector, peer_ip, source = payload[c0:c1].decode(), payload[i0:i1].decode(), payload[s0:s1].decode()
    except (WireKeyError, UnicodeDecodeError) as exc:
        raise CodecError(f"bulk row: {exc}") from None
    attributes = PathAttributes(payload[b0:b1], bool(flags & _ASN4)) if flags & _HAS_ATTRIBUTES else None
    return BulkRoutes(
        ts, collector, peer_ip, peer_asn, version, tuple(announced), attributes, tuple(withdrawn),
        bool(flags & _VIA_MP), source,
    )


def encode_checkpoint(data: dict[str, Any], level: int = 1) -> bytes:
    """One checkpoint as stored: zlib of a JSON header and the binary sections it refers to."""
    return compress_checkpoint(checkpoint_frame(data), level)


def checkpoint_frame(data: dict[str, Any]) -> bytes:
    """The uncompressed form of a checkpoint: a JSON header, then the binary sections it refers to.

    Apart from :func:`compress_checkpoint` so that a writer can frame the checkpoint while the
    state is still that of its moment and leave the compression (nine tenths of the cost of
    encoding a whole table, done by zlib without the GIL) to another thread.
    """
    sections: list[bytes] = []

    def refer(value: Any) -> Any:
        if isinstance(value, bytes | bytearray | memoryview):
            sections.append(bytes(value))
            return {"$bytes": len(sections) - 1}
        raise TypeError(f"{type(value).__name__} cannot be stored in a checkpoint")

    header = json.dumps(data, separators=(",", ":"), default=refer).encode()
    parts = [_MAGIC, _LENGTH.pack(len(header)), header]
    for section in sections:
        parts += [_LENGTH.pack(len(section)), section]
    return b"".join(parts)


def compress_checkpoint(frame: bytes, level: int = 1) -> bytes:
    """A :func:`checkpoint_frame` as stored (zlib; level 1: a whole table's keys barely compress
    further, and a checkpoint is written while events flow)."""
    return zlib.compress(frame, level)


def decode_checkpoint(stored: bytes) -> dict[str, Any]:
    """Inverse of :func:`encode_checkpoint` (an older journal's zlib JSON is read too)."""
    try:
        raw = zlib.decompress(stored)
    except zlib.error as exc:
        raise CodecError(f"not zlib data: {exc}") from None
    if not raw.startswith(_MAGIC):
        try:
            return json.loads(raw)  # type: ignore[no-any-return]
        except ValueError as exc:
            raise CodecError(f"neither a checkpoint nor JSON: {exc}") from None
    view = memoryview(raw)
    pos = len(_MAGIC)
    try:
        (size,) = _LENGTH.unpack_from(raw, pos)
        header = json.loads(bytes(view[pos + 4 : pos + 4 + size]))
        pos += 4 + size
        sections: list[bytes] = []
        while pos < len(raw):
            (size,) = _LENGTH.unpack_from(raw, pos)
            if pos + 4 + size > len(raw):
                raise CodecError(f"section {len(sections)} claims {size} octets, {len(raw) - pos - 4} left")
            sections.append(bytes(view[pos + 4 : pos + 4 + size]))
            pos += 4 + size
    except (struct.error, ValueError) as exc:
        raise CodecError(f"damaged checkpoint: {exc}") from None
    return _resolve(header, sections)  # type: ignore[no-any-return]


def _resolve(value: Any, sections: list[bytes]) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "$bytes" in value:
            index = value["$bytes"]
            if not isinstance(index, int) or not 0 <= index < len(sections):
                raise CodecError(f"checkpoint refers to section {index!r} of {len(sections)}")
            return sections[index]
        return {k: _resolve(v, sections) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, sections) for v in value]
    return value
