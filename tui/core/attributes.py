"""BGP path attributes in their wire form, and routes that keep them that way.

A full table is hundreds of thousands of routes but only tens of thousands of distinct
attribute sets: feeds that read BGP's own encoding (MRT files) keep each set once, as the bytes
it came in (:class:`PathAttributes`, interned by the reader), and decode it only when somebody
looks at a route that has it. :class:`WireRoute` is such a route; it satisfies
:class:`tui.core.routes.RouteLike` like a decoded :class:`~tui.core.routes.Route` does.

:func:`decode_attributes` reads AS_PATH (merging AS4_PATH into a 2-octet AS_PATH the way
bgpdump does, RFC 6793), NEXT_HOP, the MP_REACH_NLRI next hop and standard communities, and
raises :class:`AttributesError` for a layout that does not add up.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import NamedTuple

from tui.core.aspath import ASPath, origin_of

__all__ = [
    "AttributesError",
    "DecodedAttributes",
    "PathAttributes",
    "WireRoute",
    "decode_attributes",
    "ip_text",
    "walk_attributes",
]

_AS_TRANS = 23456
_U16 = struct.Struct(">H").unpack_from


class AttributesError(ValueError):
    """A path attribute blob (or one of its attributes) could not be decoded."""


def ip_text(raw: bytes) -> str:
    """An IPv4 or IPv6 address in its usual text form; other lengths as hex (never fails)."""
    if len(raw) == 4:
        return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"
    if len(raw) == 16:
        if raw[:12] == _V4_MAPPED:
            # glibc's inet_ntop (and so bgpdump) writes mapped addresses with a dotted tail.
            return "::ffff:" + ip_text(raw[12:])
        return str(ipaddress.IPv6Address(raw))
    return raw.hex()


_V4_MAPPED = bytes(10) + b"\xff\xff"


@dataclass(frozen=True, slots=True)
class DecodedAttributes:
    """The attributes Watchfloor keeps, decoded from one attribute blob."""

    as_path: ASPath
    next_hop: str
    mp_next_hop: str
    communities: tuple[str, ...]


def walk_attributes(blob: bytes, start: int = 0, end: int | None = None) -> dict[int, tuple[int, int]]:
    """Attribute type -> (value start, value end) of the first of each type; raises :class:`AttributesError`."""
    end = len(blob) if end is None else end
    found: dict[int, tuple[int, int]] = {}
    pos = start
    while pos < end:
        if pos + 3 > end:
            raise AttributesError(f"attribute header cut short at octet {pos - start}")
        flags = blob[pos]
        kind = blob[pos + 1]
        if flags & 0x10:
            if pos + 4 > end:
                raise AttributesError(f"attribute header cut short at octet {pos - start}")
            size = (blob[pos + 2] << 8) | blob[pos + 3]
            value = pos + 4
        else:
            size = blob[pos + 2]
            value = pos + 3
        stop = value + size
        if stop > end:
            raise AttributesError(f"attribute type {kind} claims {size} octets, {end - value} left")
        found.setdefault(kind, (value, stop))
        pos = stop
    return found


def _segments(blob: bytes, start: int, end: int, width: int) -> list[tuple[int, list[int]]]:
    """AS path segments as (type, ASNs); raises :class:`AttributesError`."""
    out = []
    pos = start
    fmt = ">H" if width == 2 else ">I"
    while pos < end:
        if pos + 2 > end:
            raise AttributesError("AS path segment header cut short")
        kind = blob[pos]
        count = blob[pos + 1]
        if kind not in (1, 2, 3, 4):
            raise AttributesError(f"AS path segment type {kind} unknown")
        stop = pos + 2 + count * width
        if stop > end:
            raise AttributesError(f"AS path segment of {count} ASNs cut short")
        asns = [v[0] for v in struct.iter_unpack(fmt, blob[pos + 2 : stop])]
        out.append((kind, asns))
        pos = stop
    return out


def _count(segments: list[tuple[int, list[int]]]) -> int:
    # bgpdump counts confederation segments too (RFC 6793 would not); follow bgpdump.
    return sum(1 if kind in (1, 4) else len(asns) for kind, asns in segments)


def _merge_as4(path: list[tuple[int, list[int]]], path4: list[tuple[int, list[int]]]) -> list[tuple[int, list[int]]]:
    keep = _count(path) - _count(path4)
    merged: list[tuple[int, list[int]]] = []
    have = 0
    for kind, asns in path:
        if have >= keep:
            break
        if kind in (1, 4):
            merged.append((kind, asns))
            have += 1
        else:
            take = asns[: keep - have]
            merged.append((kind, take))
            have += len(take)
    return merged + path4


def _as_path(segments: list[tuple[int, list[int]]]) -> ASPath:
    items: list[int | tuple[int, ...]] = []
    for kind, asns in segments:
        if kind in (1, 4):
            items.append(tuple(sorted(set(asns))))
        else:
            items.extend(asns)
    return tuple(items)


def _mp_next_hop(blob: bytes, start: int, end: int) -> str:
    """The next hop of an MP_REACH_NLRI, full or in the abbreviated TABLE_DUMP_V2 form."""
    if start >= end:
        return ""
    if blob[start] != 0:
        # RFC 6396 4.3.4: RIB entries carry only the next hop length and address (bgpdump's test).
        size = blob[start]
        raw = blob[start + 1 : start + 1 + size]
    else:
        if start + 4 > end:
            return ""
        size = blob[start + 3]
        raw = blob[start + 4 : start + 4 + size]
    if len(raw) == 32:
        raw = raw[:16]  # global address; the link-local one follows
    return ip_text(bytes(raw)) if raw else ""


def decode_attributes(blob: bytes, asn4: bool) -> DecodedAttributes:
    """Decode an UPDATE's (or RIB entry's) path attributes; raises :class:`AttributesError`.

    ``asn4`` says how AS_PATH is encoded (4-octet ASNs). For 2-octet encodings AS4_PATH is
    merged in as bgpdump does.
    """
    attrs = walk_attributes(blob)
    path: ASPath = ()
    span = attrs.get(2)
    if span is not None:
        segments = _segments(blob, span[0], span[1], 4 if asn4 else 2)
        span4 = attrs.get(17)
        if not asn4 and span4 is not None:
            merge = True
            aggregator, aggregator4 = attrs.get(7), attrs.get(18)
            if aggregator is not None and aggregator4 is not None:
                value = blob[aggregator[0] : aggregator[0] + 2]
                merge = len(value) == 2 and _U16(value)[0] == _AS_TRANS
            if merge:
                segments4 = _segments(blob, span4[0], span4[1], 4)
                if _count(segments) >= _count(segments4):
                    segments = _merge_as4(segments, segments4)
        path = _as_path(segments)
    next_hop = ""
    span = attrs.get(3)
    if span is not None and span[1] - span[0] == 4:
        next_hop = ip_text(bytes(blob[span[0] : span[1]]))
    mp_next_hop = ""
    span = attrs.get(14)
    if span is not None:
        mp_next_hop = _mp_next_hop(blob, span[0], span[1])
    communities: tuple[str, ...] = ()
    span = attrs.get(8)
    if span is not None:
        values = struct.iter_unpack(">HH", blob[span[0] : span[1] - (span[1] - span[0]) % 4])
        communities = tuple(f"{high}:{low}" for high, low in values)
    return DecodedAttributes(path, next_hop, mp_next_hop, communities)


_EMPTY_ATTRIBUTES = DecodedAttributes((), "", "", ())


class PathAttributes:
    """One path attribute blob as it came off the wire, decoded on first use.

    A feed interns them (one object per distinct blob and ASN width), so every route that has
    the same attributes shares one object and one decoding. Equal blobs compare equal. Treat it
    as immutable: the decoding is a cache, never a change.
    """

    # The caches (_decoded, _origin, _hash) stay unset until first asked for: a restored whole
    # table creates these by the ten thousand, and most are never looked at.
    __slots__ = ("blob", "asn4", "_decoded", "_hash", "_origin")

    def __init__(self, blob: bytes, asn4: bool) -> None:
        self.blob = blob
        self.asn4 = asn4
        """Whether AS_PATH carries 4-octet ASNs (an AS4 MRT record, RIB entries)."""

    def decoded(self) -> DecodedAttributes:
        """The decoded attributes (empty ones when the blob is corrupt: the route is still held)."""
        try:
            return self._decoded
        except AttributeError:
            pass
        try:
            decoded = decode_attributes(self.blob, self.asn4)
        except AttributesError:
            decoded = _EMPTY_ATTRIBUTES
        self._decoded: DecodedAttributes = decoded
        return decoded

    @property
    def as_path(self) -> ASPath:
        """The AS path (AS4_PATH merged in for 2-octet encodings)."""
        return self.decoded().as_path

    @property
    def origin(self) -> int | tuple[int, ...] | None:
        """The origin of :attr:`as_path` (an AS_SET stays a set), found without decoding the rest.

        A whole table is looked at for its origins far more often than for anything else, and
        the last ASN of AS_PATH is all that takes (unless AS4_PATH must be merged in).
        """
        try:
            return self._origin
        except AttributeError:
            self._origin: int | tuple[int, ...] | None = self._find_origin()
            return self._origin

    def _find_origin(self) -> int | tuple[int, ...] | None:
        if not self.asn4:
            # A 2-octet AS_PATH may come with an AS4_PATH to merge: only the full decoding knows.
            return origin_of(self.decoded().as_path)
        blob = self.blob
        size = len(blob)
        pos = 0
        while True:  # to AS_PATH, stepping over the other attributes
            if pos + 3 > size:
                return origin_of(self.decoded().as_path)  # none, or a blob only the decoding can judge
            if blob[pos] & 0x10:
                if pos + 4 > size:
                    return origin_of(self.decoded().as_path)
                value, end = pos + 4, pos + 4 + ((blob[pos + 2] << 8) | blob[pos + 3])
            else:
                value, end = pos + 3, pos + 3 + blob[pos + 2]
            if end > size:
                return origin_of(self.decoded().as_path)
            if blob[pos + 1] == 2:
                break
            pos = end
        pos = value
        last: tuple[int, int, int] | None = None
        while pos < end:
            if pos + 2 > end:
                return origin_of(self.decoded().as_path)
            kind, count = blob[pos], blob[pos + 1]
            stop = pos + 2 + 4 * count
            if kind not in (1, 2, 3, 4) or stop > end:
                return origin_of(self.decoded().as_path)  # let the full decoding judge it
            if count:
                last = (kind, pos + 2, stop)
            pos = stop
        if last is None:
            return None
        kind, start, stop = last
        if kind in (2, 3):
            return int.from_bytes(blob[stop - 4 : stop], "big")
        members = sorted({int.from_bytes(blob[i : i + 4], "big") for i in range(start, stop, 4)})
        return members[0] if len(members) == 1 else tuple(members)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PathAttributes):
            return NotImplemented
        return self.asn4 == other.asn4 and self.blob == other.blob

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            self._hash: int = hash((self.blob, self.asn4))
            return self._hash

    def __repr__(self) -> str:
        return f"PathAttributes({self.blob.hex()!r}, asn4={self.asn4})"


class WireRoute(NamedTuple):
    """A route whose attributes are still in wire form: satisfies :class:`tui.core.routes.RouteLike`.

    All prefixes a feed announced with the same attributes at the same time share one object.
    ``via_mp`` says the prefixes came in an MP_REACH_NLRI, whose next hop is theirs. A tuple, so
    that restoring a whole table from a checkpoint creates them at C speed.
    """

    attributes: PathAttributes
    since: float
    via_mp: bool

    @property
    def as_path(self) -> ASPath:
        """The AS path (AS4_PATH merged in for 2-octet sessions)."""
        return self.attributes.decoded().as_path

    @property
    def next_hop(self) -> str:
        """NEXT_HOP for IPv4 NLRI, the MP_REACH next hop for prefixes that came in one."""
        decoded = self.attributes.decoded()
        if self.via_mp:
            return decoded.mp_next_hop or decoded.next_hop
        return decoded.next_hop or decoded.mp_next_hop

    @property
    def communities(self) -> tuple[str, ...]:
        """Standard communities as ``"asn:value"``."""
        return self.attributes.decoded().communities

    @property
    def origin(self) -> int | tuple[int, ...] | None:
        """Origin ASN, or the AS_SET tuple when the path ends in a set."""
        return self.attributes.origin

    def __repr__(self) -> str:
        return f"WireRoute(as_path={self.as_path!r}, next_hop={self.next_hop!r}, since={self.since!r})"
