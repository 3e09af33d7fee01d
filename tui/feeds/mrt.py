"""MRT files (RFC 6396) as a replay source: RIBs and update streams turned into core events.

What is read
============

- Containers: plain, gzip (also multi-member) or bzip2 (also multi-stream), told apart by their
  magic bytes, never by the name; a path or a binary file object.
- TABLE_DUMP (v1, IPv4 and IPv6, and bgpdump's 32-bit-AS subtypes 3/4), TABLE_DUMP_V2
  (PEER_INDEX_TABLE, RIB_IPV4_UNICAST, RIB_IPV6_UNICAST and their ADD-PATH variants),
  BGP4MP and BGP4MP_ET (MESSAGE, MESSAGE_AS4, STATE_CHANGE, STATE_CHANGE_AS4, the ADD-PATH
  variants; the LOCAL variants are read but hold what the collector *sent*, so they add no
  route to the peer's table).
- 2- and 4-byte ASNs; for 2-byte sessions AS4_PATH is merged into AS_PATH the way bgpdump does
  (RFC 6793: the leading ASNs of AS_PATH, then AS4_PATH; ignored when AS4_PATH is the longer, or
  when a non-AS_TRANS AGGREGATOR comes with an AS4_AGGREGATOR). AS_SETs are kept as sets.
- IPv4 and IPv6 unicast NLRI, in the UPDATE body and in MP_REACH/MP_UNREACH (SAFI 1; multicast
  and other SAFIs are not routes anyone reaches a prefix by, so they are skipped).
- Standard communities, as ``"asn:value"`` strings (the form RIS Live uses too).
- OPEN, KEEPALIVE, NOTIFICATION and ROUTE-REFRESH messages, multicast RIBs, RIB_GENERIC and
  the protocols MRT also carries (OSPF, IS-IS) are skipped and counted in ``MrtStats.skipped``.

How bad input is reported
=========================

Every record that cannot be read becomes a :class:`RecordRejected` (location ``FILE@OFFSET``,
the byte offset of the record in the decompressed stream) and is counted; reading resumes at the
next record, found from the MRT header's length. A header that cannot be trusted (an unknown
record type, an absurd length) ends the file: from there on, nothing can be framed. A file that
ends in the middle of a record or of its compressed stream ends with
``FeedStatus(state="ended", detail="... truncated at byte offset N ...")``; every complete record
before that point has been read.

Speed
=====

Reading is a walk over one ``bytes`` buffer with struct offsets. A route becomes a Python
object only when it is kept:

- with a ``watchlist``, each NLRI block is scanned by a compiled regular expression that steps
  over non-matching prefixes in C and stops only at a prefix whose first octet could relate to
  a watched prefix; only those are decoded and checked exactly. The AS path is looked at only
  when the watchlist has ASNs, and only when the ASN's bytes occur in the attributes at all.
- with a ``state`` (full-table mode), every NLRI's wire key goes straight into
  :class:`~tui.core.routes.RouteState` with one :class:`MrtRoute` shared by all prefixes of a
  record; identical attribute blobs are interned and decoded only when first looked at.
"""

from __future__ import annotations

import bz2
import functools
import heapq
import lzma
import re
import socket
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from os import PathLike, fspath
from pathlib import Path
from typing import IO, Any, BinaryIO

from tui.core.aspath import ASPath, origin_of
from tui.core.events import (
    Event,
    FeedStatus,
    FullFeedPeers,
    PeerKey,
    PeerSeen,
    PeerStateChanged,
    RecordRejected,
    RouteAnnounced,
    RouteWithdrawn,
)
from tui.core.prefixes import Prefix, PrefixError, WireKey, wire_key_to_prefix
from tui.core.routes import FULL_FEED_SHARE, RouteState
from tui.core.watchlist import Watchlist

__all__ = [
    "BGP_STATE_NAMES",
    "MrtError",
    "MrtReader",
    "MrtRoute",
    "MrtStats",
    "collector_from_path",
    "decode_attributes",
    "read_mrt",
    "read_mrt_files",
]

Source = str | PathLike[str] | BinaryIO | IO[bytes]


class MrtError(ValueError):
    """One MRT record (or one of its parts) could not be decoded; the reader reports and skips it."""


# -- constants ------------------------------------------------------------------------------------

TABLE_DUMP, TABLE_DUMP_V2, BGP4MP, BGP4MP_ET = 12, 13, 16, 17
_KNOWN_TYPES = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 32, 33, 48, 49})
"""Every MRT type IANA ever registered: anything else in a header means we lost the framing."""
_ET_TYPES = frozenset({17, 33, 49})
_MAX_RECORD = 64 * 1024 * 1024
"""A record longer than this is taken as a corrupt header (a full RIB record with thousands of
peers is well under a megabyte)."""

_BGP4MP_STATE = {0: 2, 5: 4}  # subtype -> ASN width
_BGP4MP_MESSAGE = {1: 2, 4: 4, 6: 2, 7: 4, 8: 2, 9: 4, 10: 2, 11: 4}
_BGP4MP_LOCAL = frozenset({6, 7, 10, 11})
_BGP4MP_ADDPATH = frozenset({8, 9, 10, 11})
_TD2_PEER_INDEX = 1
_TD2_RIB = {2: (4, False), 4: (6, False), 8: (4, True), 10: (6, True)}  # subtype -> (version, addpath)

_MARKER = b"\xff" * 16
_MP_HINT = re.compile(rb"[\x80-\xff][\x0e\x0f](?:.|..)\x00[\x01\x02]", re.DOTALL).search
"""Finds what could be an MP_REACH/MP_UNREACH for IPv4 or IPv6 (optional flag, type 14/15, a
1- or 2-octet length, AFI 1 or 2): an attribute block without one need not be walked."""
_AS_TRANS = 23456

BGP_STATE_NAMES = {
    1: "IDLE",
    2: "CONNECT",
    3: "ACTIVE",
    4: "OPENSENT",
    5: "OPENCONFIRM",
    6: "ESTABLISHED",
    # Not in RFC 6396, but Quagga writes them into update files.
    7: "CLEARING",
    8: "DELETED",
}
_WELL_KNOWN_BYTES = {4: 32, 6: 128}

_U16 = struct.Struct(">H").unpack_from
_U32 = struct.Struct(">I").unpack_from
_HEADER = struct.Struct(">IHHI").unpack_from

_INET_NTOP = socket.inet_ntop
_AF = {4: socket.AF_INET, 16: socket.AF_INET6}


def _ip_text(raw: bytes) -> str:
    """An IPv4 or IPv6 address in its usual text form; other lengths as hex (never fails)."""
    family = _AF.get(len(raw))
    if family is None:
        return raw.hex()
    return _INET_NTOP(family, raw)


def _state_name(code: int) -> str:
    return BGP_STATE_NAMES.get(code, f"UNKNOWN_{code}")


# -- NLRI tokenizers --------------------------------------------------------------------------------
#
# An NLRI block is a run of (length octet, ceil(length/8) octets). A regular expression whose
# alternatives are keyed on the length octet splits a block into wire keys in C. Each
# alternative demands that the host bits of the last octet be zero, so a block with a sloppy
# prefix (or a bad length) does not tokenize completely: the caller notices (the keys do not add
# up to the block's length) and takes the slow path, which cleans or rejects.

_COMMON_LENGTHS = {
    4: (24, 22, 23, 21, 20, 16, 19, 18, 17, 32),
    6: (48, 32, 40, 44, 36, 29, 64, 47, 46, 45, 42, 33, 34, 35, 28, 56, 38),
}


def _byte_class(values: Iterable[int]) -> bytes:
    return b"[" + b"".join(b"\\x%02x" % v for v in sorted(set(values))) + b"]"


def _token_alternative(length: int) -> bytes:
    nbytes = (length + 7) // 8
    if nbytes == 0:
        return b"\\x00"
    head = b"\\x%02x" % length
    middle = b"." * (nbytes - 1)
    spare = nbytes * 8 - length
    if spare == 0:
        return head + middle + b"."
    clean = [v for v in range(256) if v & ((1 << spare) - 1) == 0]
    return head + middle + _byte_class(clean)


def _tokenizer(version: int) -> re.Pattern[bytes]:
    bits = _WELL_KNOWN_BYTES[version]
    order = list(_COMMON_LENGTHS[version]) + [n for n in range(bits + 1) if n not in _COMMON_LENGTHS[version]]
    return re.compile(b"|".join(_token_alternative(n) for n in order), re.DOTALL)


_TOKENIZERS = {4: _tokenizer(4), 6: _tokenizer(6)}


def _skip_alternatives(version: int, candidates: frozenset[int]) -> list[bytes]:
    bits = _WELL_KNOWN_BYTES[version]
    by_size: dict[int, list[int]] = {}
    for length in range(8, bits + 1):
        by_size.setdefault((length + 7) // 8, []).append(length)
    others = [v for v in range(256) if v not in candidates]
    common = [(n + 7) // 8 for n in _COMMON_LENGTHS[version]]
    if not others:
        return []
    return [
        _byte_class(lengths) + _byte_class(others) + b"." * (size - 1)
        for size, lengths in sorted(by_size.items(), key=lambda item: common.index(item[0]) if item[0] in common else 99)
    ]


@functools.lru_cache(maxsize=64)
def _skipper(version: int, candidates: frozenset[int]) -> re.Pattern[bytes] | None:
    """A pattern whose ``fullmatch`` accepts exactly the blocks of non-candidate prefixes."""
    skip = _skip_alternatives(version, candidates)
    if not skip:
        return None
    return re.compile(b"(?:" + b"|".join(skip) + b")*+", re.DOTALL)


@functools.lru_cache(maxsize=64)
def _scanner(version: int, candidates: frozenset[int]) -> re.Pattern[bytes] | None:
    """A pattern that steps over prefixes whose first octet is not in ``candidates``.

    ``pattern.match(data, pos, end)`` consumes non-candidates and captures the next candidate in
    group 1 (prefixes shorter than /8 are always candidates: their first octet is partial). When
    group 1 did not match and ``m.end() != end``, the block is malformed.
    """
    skip = _skip_alternatives(version, candidates)
    take = [b"\\x00", b"[\\x01-\\x07]."]
    if candidates:
        bits = _WELL_KNOWN_BYTES[version]
        by_size: dict[int, list[int]] = {}
        for length in range(8, bits + 1):
            by_size.setdefault((length + 7) // 8, []).append(length)
        take += [_byte_class(lengths) + _byte_class(candidates) + b"." * (size - 1) for size, lengths in by_size.items()]
    skip_part = b"(?:" + b"|".join(skip) + b")*+" if skip else b""
    return re.compile(skip_part + b"(" + b"|".join(take) + b")?", re.DOTALL)


def split_nlri(data: bytes, start: int, end: int, version: int, addpath: bool = False) -> list[WireKey]:
    """The wire keys of an NLRI block ``data[start:end]``, host bits cleared; raises :class:`MrtError`.

    With ``addpath`` each prefix is preceded by a 4-octet path identifier, which is dropped (route
    state is keyed by prefix: the last path of a prefix wins).
    """
    if not addpath:
        keys = _TOKENIZERS[version].findall(data, start, end)
        if sum(map(len, keys)) == end - start:
            return keys
    bits = _WELL_KNOWN_BYTES[version]
    keys = []
    pos = start
    while pos < end:
        if addpath:
            pos += 4
            if pos >= end:
                raise MrtError(f"ADD-PATH NLRI cut short at octet {pos - start} of {end - start}")
        length = data[pos]
        if length > bits:
            raise MrtError(f"IPv{version} prefix length {length} > {bits}")
        nbytes = (length + 7) // 8
        stop = pos + 1 + nbytes
        if stop > end:
            raise MrtError(f"prefix /{length} needs {nbytes} octets, {end - pos - 1} left in the NLRI block")
        key = data[pos:stop]
        spare = nbytes * 8 - length
        if spare and key[-1] & ((1 << spare) - 1):
            key = key[:-1] + bytes((key[-1] & (0xFF << spare) & 0xFF,))
        keys.append(key)
        pos = stop
    return keys


# -- attributes -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecodedAttributes:
    """The attributes Watchfloor keeps, decoded from one attribute blob."""

    as_path: ASPath
    next_hop: str
    mp_next_hop: str
    communities: tuple[str, ...]


def _walk_attributes(blob: bytes, start: int = 0, end: int | None = None) -> dict[int, tuple[int, int]]:
    """Attribute type -> (value start, value end); raises :class:`MrtError` on a bad layout."""
    end = len(blob) if end is None else end
    found: dict[int, tuple[int, int]] = {}
    pos = start
    while pos < end:
        if pos + 3 > end:
            raise MrtError(f"attribute header cut short at octet {pos - start}")
        flags = blob[pos]
        kind = blob[pos + 1]
        if flags & 0x10:
            if pos + 4 > end:
                raise MrtError(f"attribute header cut short at octet {pos - start}")
            size = (blob[pos + 2] << 8) | blob[pos + 3]
            value = pos + 4
        else:
            size = blob[pos + 2]
            value = pos + 3
        stop = value + size
        if stop > end:
            raise MrtError(f"attribute type {kind} claims {size} octets, {end - value} left")
        found.setdefault(kind, (value, stop))
        pos = stop
    return found


def _segments(blob: bytes, start: int, end: int, width: int) -> list[tuple[int, list[int]]]:
    """AS path segments as (type, ASNs); raises :class:`MrtError`."""
    out = []
    pos = start
    fmt = ">H" if width == 2 else ">I"
    while pos < end:
        if pos + 2 > end:
            raise MrtError("AS path segment header cut short")
        kind = blob[pos]
        count = blob[pos + 1]
        if kind not in (1, 2, 3, 4):
            raise MrtError(f"AS path segment type {kind} unknown")
        stop = pos + 2 + count * width
        if stop > end:
            raise MrtError(f"AS path segment of {count} ASNs cut short")
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
    return _ip_text(bytes(raw)) if raw else ""


def decode_attributes(blob: bytes, asn4: bool) -> DecodedAttributes:
    """Decode an UPDATE's (or RIB entry's) path attributes; raises :class:`MrtError`.

    ``asn4`` says how AS_PATH is encoded (4-octet ASNs). For 2-octet encodings AS4_PATH is
    merged in as bgpdump does.
    """
    attrs = _walk_attributes(blob)
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
        next_hop = _ip_text(bytes(blob[span[0] : span[1]]))
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


class _Attrs:
    """One interned attribute blob, decoded on first use and shared by every route that has it."""

    __slots__ = ("blob", "asn4", "_decoded")

    def __init__(self, blob: bytes, asn4: bool) -> None:
        self.blob = blob
        self.asn4 = asn4
        self._decoded: DecodedAttributes | None = None

    def decoded(self) -> DecodedAttributes:
        """The decoded attributes (empty ones when the blob is corrupt: the route is still held)."""
        if self._decoded is None:
            try:
                self._decoded = decode_attributes(self.blob, self.asn4)
            except MrtError:
                self._decoded = _EMPTY_ATTRIBUTES
        return self._decoded


class MrtRoute:
    """A route kept straight from MRT: satisfies :class:`tui.core.routes.RouteLike`.

    All prefixes of one record (and, in a RIB, all entries with the same attributes and time)
    share one object; the attributes are decoded the first time anyone looks at them.
    """

    __slots__ = ("_attrs", "since", "_mp")

    def __init__(self, attrs: _Attrs, since: float, mp: bool) -> None:
        self._attrs = attrs
        self.since = since
        self._mp = mp

    @property
    def as_path(self) -> ASPath:
        """The AS path (AS4_PATH merged in for 2-octet sessions)."""
        return self._attrs.decoded().as_path

    @property
    def next_hop(self) -> str:
        """NEXT_HOP for IPv4 NLRI, the MP_REACH next hop for prefixes that came in one."""
        decoded = self._attrs.decoded()
        if self._mp:
            return decoded.mp_next_hop or decoded.next_hop
        return decoded.next_hop or decoded.mp_next_hop

    @property
    def communities(self) -> tuple[str, ...]:
        """Standard communities as ``"asn:value"``."""
        return self._attrs.decoded().communities

    @property
    def origin(self) -> int | tuple[int, ...] | None:
        """Origin ASN, or the AS_SET tuple when the path ends in a set."""
        return origin_of(self.as_path)

    def __repr__(self) -> str:
        return f"MrtRoute(as_path={self.as_path!r}, next_hop={self.next_hop!r}, since={self.since!r})"


# -- stats ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class MrtStats:
    """What a reader has seen so far (counters; updated while reading)."""

    records: int = 0
    """MRT records read (complete ones, including rejected and skipped ones)."""
    rejected: int = 0
    """Records that could not be decoded (each also came out as a RecordRejected)."""
    skipped: int = 0
    """Records or messages deliberately not turned into routes (OPEN, KEEPALIVE, multicast...)."""
    truncated: bool = False
    """The file (or its compressed stream) ended in the middle of a record."""
    truncated_at: int | None = None
    """Decompressed byte offset of the first incomplete record (of the first truncated file)."""
    corrupt_header_at: int | None = None
    """Offset of a header that could not be trusted (reading stopped there; first such file)."""
    announcements: int = 0
    """Prefixes announced (every NLRI of every UPDATE, every RIB entry)."""
    withdrawals: int = 0
    state_changes: int = 0
    events: int = 0
    """Events handed out."""
    bytes: int = 0
    """Decompressed bytes consumed."""
    files: int = 0
    first_ts: float | None = None
    last_ts: float | None = None

    def add(self, other: MrtStats) -> None:
        """Fold another file's counters into this one."""
        for name in ("records", "rejected", "skipped", "announcements", "withdrawals", "state_changes", "events", "bytes", "files"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.truncated = self.truncated or other.truncated
        if self.truncated_at is None:
            self.truncated_at = other.truncated_at
        if self.corrupt_header_at is None:
            self.corrupt_header_at = other.corrupt_header_at
        if other.first_ts is not None and (self.first_ts is None or other.first_ts < self.first_ts):
            self.first_ts = other.first_ts
        if other.last_ts is not None and (self.last_ts is None or other.last_ts > self.last_ts):
            self.last_ts = other.last_ts


# -- containers -----------------------------------------------------------------------------------

_READ_SIZE = 1 << 20
_PIECE = 1 << 14
"""Compressed input is fed in pieces this big: a decompressor that meets corrupt data loses the
output of the call that raised, so small pieces keep almost everything before the damage."""
_OUT_LIMIT = 8 << 20


class _StreamEnd:
    """How the container stream ended: cleanly, cut short, or corrupt."""

    __slots__ = ("problem",)

    def __init__(self) -> None:
        self.problem = ""


def _container_chunks(fileobj: IO[bytes], end: _StreamEnd) -> Iterator[bytes]:
    """Decompressed chunks; sets ``end.problem`` when the compressed stream is cut or corrupt."""
    head = fileobj.read(_READ_SIZE)
    if head[:2] == b"\x1f\x8b":
        make: Callable[[], Any] = lambda: zlib.decompressobj(31)  # noqa: E731
        kind, errors = "gzip", (zlib.error,)
    elif head[:3] == b"BZh":
        make, kind, errors = bz2.BZ2Decompressor, "bzip2", (OSError, ValueError, EOFError)
    elif head[:6] == b"\xfd7zXZ\x00":
        make, kind, errors = lzma.LZMADecompressor, "xz", (lzma.LZMAError, EOFError)
    else:
        data = head
        while data:
            yield data
            data = fileobj.read(_READ_SIZE)
        return
    decomp = make()
    pending = memoryview(head)
    while True:
        if not pending:
            more = fileobj.read(_READ_SIZE)
            if not more:
                break
            pending = memoryview(more)
        piece, pending = pending[:_PIECE], pending[_PIECE:]
        try:
            if kind == "gzip":
                saved = decomp.copy()
                try:
                    out = decomp.decompress(piece, _OUT_LIMIT)
                except zlib.error:
                    # Replay the piece in small steps to keep what decodes before the damage
                    # (a bad CRC only shows at the very end of the stream).
                    decomp = saved
                    for step in range(0, len(piece), 512):
                        saved = decomp.copy()
                        try:
                            yield decomp.decompress(piece[step : step + 512])
                        except zlib.error:
                            decomp = saved
                            for octet in range(step, min(step + 512, len(piece))):
                                yield decomp.decompress(piece[octet : octet + 1])
                            raise
                    raise
                while True:
                    if out:
                        yield out
                    if decomp.eof or not decomp.unconsumed_tail:
                        break
                    out = decomp.decompress(decomp.unconsumed_tail, _OUT_LIMIT)
            else:
                out = decomp.decompress(piece, _OUT_LIMIT)
                while True:
                    if out:
                        yield out
                    if decomp.eof or decomp.needs_input:
                        break
                    out = decomp.decompress(b"", _OUT_LIMIT)
        except errors as exc:
            end.problem = f"{kind} data corrupt ({exc})"
            return
        if decomp.eof:
            rest = bytes(decomp.unused_data) + bytes(pending)
            if rest[:2] == b"\x1f\x8b" or rest[:3] == b"BZh" or rest[:6] == b"\xfd7zXZ\x00":
                decomp = make()  # the next member / stream (cat a.gz b.gz, pbzip2)
                pending = memoryview(rest)
                continue
            tail = rest + fileobj.read()
            if tail.strip(b"\x00"):
                end.problem = f"{len(tail)} stray octets after the {kind} stream ignored"
            return
    if kind == "gzip":
        try:
            tail_out = decomp.flush()
        except zlib.error:
            tail_out = b""
        if tail_out:
            yield tail_out
    if not decomp.eof:
        end.problem = f"{kind} stream cut short"


# -- collector names --------------------------------------------------------------------------------

_RRC = re.compile(r"^(?:ris\.)?(rrc\d+)$")
_FILE_COLLECTOR = re.compile(r"^(?:ris\.(rrc\d+)|routeviews\.([A-Za-z0-9.\-]+?))\.(?:updates|bview|rib|ribs)\.")
_ROUTEVIEWS = re.compile(r"^route-views[A-Za-z0-9.\-]*$")


def collector_from_path(path: str | PathLike[str]) -> str | None:
    """The collector named by an archive path (``rrc15``, ``route-views.jinx``...), or None."""
    p = Path(path)
    match = _FILE_COLLECTOR.match(p.name)
    if match:
        return match.group(1) or match.group(2)
    folders = p.parts[:-1]
    for i in range(len(folders) - 1, -1, -1):
        part = folders[i]
        if _RRC.match(part):
            return _RRC.match(part).group(1)  # type: ignore[union-attr]
        if _ROUTEVIEWS.match(part):
            return part
        if part == "bgpdata":
            # RouteViews: <collector>/bgpdata/...; route-views2 has no collector folder.
            parent = folders[i - 1] if i else ""
            return parent if _ROUTEVIEWS.match(parent) else "route-views2"
    return None


def _short_path(path: str) -> str:
    """The file name with its folder (``bgpdump/updates.et-header.2015.gz``), without the rest."""
    parts = Path(path).parts
    return "/".join(parts[-2:]) if len(parts) >= 2 and parts[-2] not in ("/", "") else path


def _file_stem(name: str) -> str:
    stem = Path(name).name
    for suffix in (".gz", ".bz2", ".xz", ".mrt"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    return stem or "mrt"


# -- the watch filter ---------------------------------------------------------------------------------


def _never(data: bytes, start: int, end: int) -> None:
    """A ``skip_all`` that never skips."""
    return None


class _WatchFilter:
    """Answers "could this NLRI / this path matter to the watchlist?" without building objects."""

    def __init__(self, watchlist: Watchlist) -> None:
        self.watchlist = watchlist
        self._size = -1
        self.scanners: dict[int, re.Pattern[bytes] | None] = {4: None, 6: None}
        self.skip_all4: Callable[[bytes, int, int], re.Match[bytes] | None] | None = None
        """``fullmatch`` of a pattern that only non-candidate IPv4 prefixes satisfy: None
        from it means "look closer"; a match means the block holds nothing of interest."""
        self.asns: frozenset[int] = frozenset()
        self.asn_needles: tuple[bytes, ...] = ()
        self._cache: dict[tuple[int, bytes], bool] = {}
        self.refresh()

    def refresh(self) -> None:
        """Rebuild when the watchlist grew (an ASN or country expansion arrived)."""
        size = len(self.watchlist.trie) + 7919 * len(self.watchlist.watched_asns())
        if size == self._size:
            return
        self._size = size
        firsts: dict[int, set[int]] = {4: set(), 6: set()}
        for prefix in self.watchlist.prefixes():
            bits = prefix.bits
            if prefix.length >= 8:
                firsts[prefix.version].add(prefix.network >> (bits - 8))
            else:
                top = prefix.network >> (bits - 8)
                span = 1 << (8 - prefix.length)
                firsts[prefix.version].update(range(top, top + span))
        has = {v: any(p.version == v for p in self.watchlist.prefixes()) for v in (4, 6)}
        # Watched prefixes by the first octet an observed /8-or-longer must have to relate to them.
        self._by_first: dict[int, dict[int, list[tuple[int, int]]]] = {4: {}, 6: {}}
        for prefix in self.watchlist.prefixes():
            top = prefix.network >> (prefix.bits - 8)
            span = 1 << (8 - prefix.length) if prefix.length < 8 else 1
            for first in range(top, top + span):
                self._by_first[prefix.version].setdefault(first, []).append((prefix.network, prefix.length))
        self.scanners = {v: (_scanner(v, frozenset(firsts[v])) if has[v] else None) for v in (4, 6)}
        skipper = _skipper(4, frozenset(firsts[4])) if has[4] else None
        if skipper is not None:
            self.skip_all4 = skipper.fullmatch
        elif has[4]:
            self.skip_all4 = _never  # every first octet could matter (a watched /0../7): always look
        else:
            self.skip_all4 = None
        self.asns = frozenset(self.watchlist.watched_asns())
        needles = set()
        for asn in self.asns:
            needles.add(asn.to_bytes(4, "big"))
            if asn <= 0xFFFF:
                needles.add(asn.to_bytes(2, "big"))
        self.asn_needles = tuple(sorted(needles))
        self._cache.clear()

    def key_relevant(self, version: int, key: bytes) -> bool:
        """Exact test of one wire key (equal, inside or covering a watched prefix)."""
        cached = self._cache.get((version, key))
        if cached is None:
            try:
                prefix = wire_key_to_prefix(version, key)
            except PrefixError:
                prefix = None
            cached = prefix is not None and self._relevant(prefix)
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[(version, key)] = cached
        return cached

    def _relevant(self, prefix: Prefix) -> bool:
        if prefix.length < 8:
            return self.watchlist.trie.is_relevant(prefix)
        bits = prefix.bits
        network, length = prefix.network, prefix.length
        for watched_network, watched_length in self._by_first[prefix.version].get(network >> (bits - 8), ()):
            shift = bits - min(length, watched_length)
            if network >> shift == watched_network >> shift:
                return True
        return False

    def scan(self, version: int, data: bytes, start: int, end: int, addpath: bool) -> list[bytes]:
        """Wire keys in ``data[start:end]`` related to a watched prefix; raises :class:`MrtError`."""
        scanner = self.scanners[version]
        if scanner is None:
            return []
        if addpath:
            return [k for k in split_nlri(data, start, end, version, True) if self.key_relevant(version, k)]
        found = []
        pos = start
        while True:
            m = scanner.match(data, pos, end)
            if m.start(1) < 0:
                if m.end() != end:
                    # Malformed (or a sloppy host bit): let the exact splitter clean or refuse it.
                    return [k for k in split_nlri(data, start, end, version) if self.key_relevant(version, k)]
                return found
            s, pos = m.span(1)
            key = data[s:pos]
            if self.key_relevant(version, key):
                found.append(key)

    def origin_watched(self, blob: bytes, asn4: bool) -> bool:
        """True when the path's origin (any member of a final AS_SET) is a watched ASN."""
        if not self.asn_needles:
            return False
        for needle in self.asn_needles:
            if needle in blob:
                break
        else:
            return False
        try:
            path = decode_attributes(blob, asn4).as_path
        except MrtError:
            return False
        origin = origin_of(path)
        if origin is None:
            return False
        if isinstance(origin, tuple):
            return any(asn in self.asns for asn in origin)
        return origin in self.asns


# -- the per-file decoder -----------------------------------------------------------------------------


class _KeptRoutes(set[tuple[int, bytes]]):
    """(version, wire key) of routes kept only for their watched origin, at one peer.

    ``may_touch`` is a C-speed pre-filter for "could this NLRI block name one of them?": a key
    that is in the block is also a substring of it, so a miss is certain; a hit is checked.
    """

    def __init__(self) -> None:
        super().__init__()
        self._finder: Callable[[bytes, int, int], object] | None = None

    def add(self, item: tuple[int, bytes]) -> None:  # noqa: D102
        super().add(item)
        self._finder = None

    def update(self, *items: Iterable[tuple[int, bytes]]) -> None:  # noqa: D102
        super().update(*items)
        self._finder = None

    def difference_update(self, *items: Iterable[tuple[int, bytes]]) -> None:  # noqa: D102
        super().difference_update(*items)
        self._finder = None

    def may_touch(self, data: bytes, start: int, end: int) -> bool:
        """False when no kept key occurs anywhere in ``data[start:end]``."""
        if not self:
            return False
        if self._finder is None:
            keys = sorted({key for _, key in self}, key=len, reverse=True)
            self._finder = re.compile(b"|".join(re.escape(k) for k in keys), re.DOTALL).search
        return self._finder(data, start, end) is not None


class _Output:
    """Where every decoder of one reader puts its events, in processing order."""

    __slots__ = ("events", "seen_peers", "origin_kept")

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.seen_peers: set[PeerKey] = set()
        self.origin_kept: dict[PeerKey, _KeptRoutes] = {}
        """Routes kept only because their origin is a watched ASN: their withdrawals and
        replacements must come out too, or the filtered state would hold stale routes."""


class _Bad(Exception):
    """A record-level failure (internal): the record is rejected and reading goes on."""


class _FileDecoder:
    """Reads one MRT file or stream and turns its records into events and route state."""

    def __init__(
        self,
        source: Source,
        out: _Output,
        *,
        watch: _WatchFilter | None,
        state: RouteState | None,
        collector: str | None,
        source_name: str,
    ) -> None:
        self.out = out
        self.watch = watch
        self.state = state
        self.source_name = source_name
        self.emit_all = watch is None and state is None
        self._watch_only = watch is not None and state is None
        self.stats = MrtStats(files=1)
        if isinstance(source, str | PathLike):
            self.path: str = fspath(source)
            self._fileobj: IO[bytes] | None = None
        else:
            self.path = str(getattr(source, "name", "") or "<stream>")
            self._fileobj = source
        self._collector = collector or (collector_from_path(self.path) if self.path != "<stream>" else None)
        self.location_name = self.path
        # Events carry a name that does not depend on where the archive was unpacked, so a journal
        # (and the screen) reads the same on every machine; "rrc00/updates.20141222.0000.gz" still
        # tells apart collectors whose archives share file names.
        self.display_name = _short_path(self.path)
        self._peer_cache: dict[bytes, PeerKey] = {}
        self._peer_index: list[PeerKey] | None = None
        self._rib_counts: dict[PeerKey, list[int]] = {}
        self._rib_ts: float | None = None
        self._attrs_cache: dict[bytes, _Attrs] = {}
        self._attrs_cache4: dict[bytes, _Attrs] = {}
        self._route_cache: dict[tuple[bytes, bool, bool], MrtRoute] = {}
        self._missing_index_reported = False
        self._last_ts: float | None = None
        self._handlers: dict[int, Callable[[float, int, bytes, int, int], None]] = {
            BGP4MP: self._bgp4mp,
            BGP4MP_ET: self._bgp4mp,
            TABLE_DUMP_V2: self._table_dump_v2,
            TABLE_DUMP: self._table_dump,
        }

    # -- naming ---------------------------------------------------------------------------------

    @property
    def collector(self) -> str:
        """The collector name given, found in the path, from the PEER_INDEX_TABLE, or the stem."""
        if self._collector is None:
            self._collector = _file_stem(self.path)
        return self._collector

    # -- framing --------------------------------------------------------------------------------

    def records(self, dispatch: bool = False, every: int = 1000) -> Iterator[Any]:
        """Frame the file into complete records.

        By default yields each record as (ts, type, subtype, buffer, body start, body end,
        offset), for merging several files (pass each to :meth:`process`). With ``dispatch``
        it decodes each record itself and yields None every ``every`` records: one file, no
        per-record generator round trip.
        """
        stats = self.stats
        end_state = _StreamEnd()
        try:
            fileobj = self._fileobj if self._fileobj is not None else open(self.path, "rb")  # noqa: SIM115
        except OSError as exc:
            self._reject(0.0, 0, f"cannot open: {exc.strerror or exc}")
            self._finish("could not be opened")
            return
        buf = b""
        base = 0
        header = _HEADER
        u32 = _U32
        known = _KNOWN_TYPES
        et_types = _ET_TYPES
        max_record = _MAX_RECORD
        handlers = self._handlers
        countdown = every
        count = 0
        last: float | None = None
        try:
            for chunk in _container_chunks(fileobj, end_state):
                buf = buf + chunk if buf else chunk
                pos = 0
                size = len(buf)
                while pos + 12 <= size:
                    ts, rtype, subtype, length = header(buf, pos)
                    if rtype not in known or length > max_record:
                        stats.records += count
                        self._last_ts = last
                        self._corrupt_header(ts, base + pos, rtype, subtype, length)
                        return
                    stop = pos + 12 + length
                    if stop > size:
                        break
                    body = pos + 12
                    count += 1
                    if rtype in et_types:
                        if length < 4:
                            self._reject(float(ts), base + pos, f"extended-timestamp record of {length} octets has no microseconds")
                            pos = stop
                            continue
                        fts = ts + u32(buf, body)[0] / 1e6
                        body += 4
                    else:
                        fts = float(ts)
                    if last is None:
                        stats.first_ts = fts
                    last = fts
                    if not dispatch:
                        self._last_ts = fts
                        yield fts, rtype, subtype, buf, body, stop, base + pos
                    else:
                        handler = handlers.get(rtype)
                        if handler is None:
                            stats.skipped += 1
                        else:
                            try:
                                handler(fts, subtype, buf, body, stop)
                            except (_Bad, MrtError) as exc:
                                self._reject(fts, base + pos, str(exc), buf[pos : min(stop, pos + 32)])
                            except (IndexError, struct.error):
                                self._reject(fts, base + pos, "record shorter than its fields", buf[pos : min(stop, pos + 32)])
                        countdown -= 1
                        if not countdown:
                            countdown = every
                            stats.records += count
                            count = 0
                            yield None
                    pos = stop
                stats.records += count
                count = 0
                stats.bytes += pos
                base += pos
                buf = buf[pos:]
        except OSError as exc:
            end_state.problem = f"read error: {exc.strerror or exc}"
        finally:
            if self._fileobj is None:
                fileobj.close()
        stats.records += count
        self._last_ts = last
        if buf:
            stats.truncated = True
            stats.truncated_at = base
            detail = f"truncated at byte offset {base}: last record incomplete ({len(buf)} octets left)"
            if end_state.problem:
                detail += f"; {end_state.problem}"
            self._finish(detail)
        elif end_state.problem:
            stats.truncated = "cut short" in end_state.problem or "corrupt" in end_state.problem
            if stats.truncated:
                stats.truncated_at = base
                self._finish(f"truncated at byte offset {base}: {end_state.problem}")
            else:
                self._finish(end_state.problem)
        else:
            self._finish("")

    def _corrupt_header(self, ts: int, offset: int, rtype: int, subtype: int, length: int) -> None:
        self.stats.corrupt_header_at = offset
        reason = f"MRT header cannot be trusted (type {rtype}, subtype {subtype}, length {length}); reading stopped"
        self._reject(self._last_ts or float(ts), offset, reason)
        self._finish(f"stopped at byte offset {offset}: corrupt MRT header, rest of file unreadable")

    def _finish(self, problem: str) -> None:
        stats = self.stats
        stats.last_ts = self._last_ts
        out = self.out.events
        if self._rib_counts:
            self._declare_full_feed()
        if self._peer_index is None and self._missing_index_reported:
            problem = (problem + "; " if problem else "") + "RIB records without a PEER_INDEX_TABLE could not be attributed"
        detail = f"{self.display_name}: {stats.records} records, {stats.rejected} rejected"
        if problem:
            detail += f"; {problem}"
        ts = stats.last_ts if stats.last_ts is not None else 0.0
        out.append(FeedStatus(ts, self.source_name, "ended", detail))

    # -- dispatch -------------------------------------------------------------------------------

    def process(self, ts: float, rtype: int, subtype: int, data: bytes, start: int, end: int, offset: int) -> None:
        """Decode one record from :meth:`records`; anything wrong with it becomes a RecordRejected."""
        self._last_ts = ts
        handler = self._handlers.get(rtype)
        if handler is None:
            self.stats.skipped += 1
            return
        head = start - (16 if rtype in _ET_TYPES else 12)
        try:
            handler(ts, subtype, data, start, end)
        except (_Bad, MrtError) as exc:
            self._reject(ts, offset, str(exc), data[head : min(end, head + 32)])
        except (IndexError, struct.error):
            self._reject(ts, offset, "record shorter than its fields", data[head : min(end, head + 32)])

    def _table_dump_v2(self, ts: float, subtype: int, d: bytes, s: int, e: int) -> None:
        if subtype in _TD2_RIB:
            self._rib(ts, subtype, d, s, e)
        elif subtype == _TD2_PEER_INDEX:
            self._peer_index_table(d, s, e)
        else:
            self.stats.skipped += 1  # multicast RIBs, RIB_GENERIC, GEO_PEER_TABLE

    def _reject(self, ts: float, offset: int, reason: str, raw: bytes = b"") -> None:
        self.stats.rejected += 1
        self.out.events.append(
            RecordRejected(ts, self.source_name, f"{self.location_name}@{offset}", reason, bytes(raw).hex())
        )

    def _seen(self, peer: PeerKey, ts: float) -> None:
        self.out.seen_peers.add(peer)
        event = PeerSeen(ts, peer.collector, peer.peer_ip, peer.peer_asn, self.source_name)
        self.out.events.append(event)
        if self.state is not None:
            self.state.apply(event)

    # -- BGP4MP ---------------------------------------------------------------------------------

    def _bgp4mp(self, ts: float, subtype: int, d: bytes, s: int, e: int) -> None:
        width = _BGP4MP_MESSAGE.get(subtype)
        if width is None:
            self._bgp4mp_state(ts, subtype, d, s, e)
            return
        a = s + 2 * width + 2
        if d.startswith(b"\x00\x01", a):
            p = a + 10
        elif d.startswith(b"\x00\x02", a):
            p = a + 34
        else:
            afi = int.from_bytes(d[a : a + 2], "big")
            raise _Bad(f"BGP4MP address family {afi} unknown" + (" (Zebra OPEN bug)" if afi == 0xFFFF else ""))
        if p + 19 > e:
            raise _Bad("BGP4MP message cut short")
        peer = self._peer_cache.get(d[s:p])
        if peer is None:
            peer = self._new_peer(ts, d[s:p], width, subtype)
        if not d.startswith(_MARKER, p):
            raise _Bad("BGP message marker is not all ones")
        size = (d[p + 16] << 8) | d[p + 17]
        if size < 19 or p + size > e:
            raise _Bad(f"BGP message length {size} does not fit the {e - p} octets of the record")
        if d[p + 18] != 2:
            self.stats.skipped += 1  # OPEN, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH
            return
        if subtype > 5:
            if subtype in _BGP4MP_LOCAL:
                # What the collector sent to the peer: not a route the peer holds.
                self.stats.skipped += 1
                return
            self._update(ts, peer, d, p + 19, p + size, width == 4, True)
        elif self._watch_only:
            self._update_watched(ts, peer, d, p + 19, p + size, width == 4)
        else:
            self._update(ts, peer, d, p + 19, p + size, width == 4, False)

    def _bgp4mp_state(self, ts: float, subtype: int, d: bytes, s: int, e: int) -> None:
        width = _BGP4MP_STATE.get(subtype)
        if width is None:
            self.stats.skipped += 1  # ENTRY / SNAPSHOT: deprecated, never seen in archives
            return
        if e - s == 2 * width + 4 and width == 2:
            raise _Bad("STATE_CHANGE without peer address (8-octet Zebra record)")
        if s + 2 * width + 4 > e:
            raise _Bad("BGP4MP header cut short")
        afi = (d[s + 2 * width + 2] << 8) | d[s + 2 * width + 3]
        if afi not in (1, 2):
            raise _Bad(f"BGP4MP address family {afi} unknown")
        p = s + 2 * width + 4 + (8 if afi == 1 else 32)
        if p + 4 > e:
            raise _Bad("STATE_CHANGE cut short")
        peer = self._peer_cache.get(d[s:p]) or self._peer_from_header(d[s:p], width)
        old = (d[p] << 8) | d[p + 1]
        new = (d[p + 2] << 8) | d[p + 3]
        self._state_change(ts, peer, old, new)

    def _peer_from_header(self, hkey: bytes, width: int) -> PeerKey:
        asn = int.from_bytes(hkey[0:width], "big")
        ip_start = 2 * width + 4
        iplen = (len(hkey) - ip_start) // 2
        return PeerKey(self.collector, _ip_text(hkey[ip_start : ip_start + iplen]), asn)

    def _new_peer(self, ts: float, hkey: bytes, width: int, subtype: int) -> PeerKey:
        peer = self._peer_from_header(hkey, width)
        if subtype in _BGP4MP_LOCAL:
            return peer  # not cached: the first message *from* the peer must still say PeerSeen
        if len(self._peer_cache) > 100_000:
            self._peer_cache.clear()
        self._peer_cache[hkey] = peer
        if peer not in self.out.seen_peers:
            self._seen(peer, ts)
        return peer

    def _state_change(self, ts: float, peer: PeerKey, old: int, new: int) -> None:
        self.stats.state_changes += 1
        event = PeerStateChanged(ts, peer.collector, peer.peer_ip, peer.peer_asn, _state_name(old), _state_name(new), self.source_name)
        self.out.events.append(event)
        if new != 6:
            self.out.origin_kept.pop(peer, None)
        if self.state is not None:
            self.state.apply(event)

    def _update_watched(self, ts: float, peer: PeerKey, d: bytes, s: int, e: int, asn4: bool) -> None:
        """The common case, kept lean: watchlist only, no ADD-PATH, and (checked here) no MP."""
        if s + 4 > e:
            raise _Bad("UPDATE cut short")
        we = s + 2 + ((d[s] << 8) | d[s + 1])
        if we + 2 > e:
            raise _Bad("withdrawn-routes length overruns the UPDATE")
        a_s = we + 2
        a_e = a_s + ((d[we] << 8) | d[we + 1])
        if a_e > e:
            raise _Bad("path-attributes length overruns the UPDATE")
        if a_e > a_s and _MP_HINT(d, a_s, a_e) is not None:
            self._update(ts, peer, d, s, e, asn4, False)
            return
        kept = self.out.origin_kept.get(peer) if self.out.origin_kept else None
        if kept and (kept.may_touch(d, s + 2, we) or kept.may_touch(d, a_e, e)):
            self._update(ts, peer, d, s, e, asn4, False)
            return
        watch = self.watch
        skip_all = watch.skip_all4  # type: ignore[union-attr]
        if we > s + 2 and skip_all is not None and skip_all(d, s + 2, we) is None:
            chosen = watch.scan(4, d, s + 2, we, False)  # type: ignore[union-attr]
            if chosen:
                self.stats.withdrawals += len(chosen)
                self._emit_withdrawals(ts, peer, 4, chosen)
        if a_e < e:
            chosen = None
            if skip_all is not None and skip_all(d, a_e, e) is None:
                chosen = watch.scan(4, d, a_e, e, False)  # type: ignore[union-attr]
            for needle in watch.asn_needles:  # type: ignore[union-attr]
                if d.find(needle, a_s, a_e) >= 0:
                    if watch.origin_watched(d[a_s:a_e], asn4):  # type: ignore[union-attr]
                        chosen = split_nlri(d, a_e, e, 4)
                        self.out.origin_kept.setdefault(peer, _KeptRoutes()).update((4, k) for k in chosen)
                    break
            if chosen:
                self.stats.announcements += len(chosen)
                self._emit_announcements(ts, peer, 4, chosen, d[a_s:a_e], asn4, False)

    def _update(self, ts: float, peer: PeerKey, d: bytes, s: int, e: int, asn4: bool, addpath: bool) -> None:
        if s + 4 > e:
            raise _Bad("UPDATE cut short")
        wlen = (d[s] << 8) | d[s + 1]
        ws = s + 2
        we = ws + wlen
        if we + 2 > e:
            raise _Bad(f"withdrawn-routes length {wlen} overruns the UPDATE")
        alen = (d[we] << 8) | d[we + 1]
        a_s = we + 2
        a_e = a_s + alen
        if a_e > e:
            raise _Bad(f"path-attributes length {alen} overruns the UPDATE")
        # Blocks: (version, start, end, is_withdrawal, mp)
        mp_reach = mp_unreach = None
        if alen and _MP_HINT(d, a_s, a_e) is not None:
            found = _walk_attributes(d, a_s, a_e)
            mp_reach = found.get(14)
            mp_unreach = found.get(15)
        withdrawn: list[tuple[int, int, int]] = []
        announced: list[tuple[int, int, int, bool]] = []
        if wlen:
            withdrawn.append((4, ws, we))
        if mp_unreach is not None:
            ms, me = mp_unreach
            if me - ms >= 3:
                afi = (d[ms] << 8) | d[ms + 1]
                if d[ms + 2] == 1 and afi in (1, 2):
                    withdrawn.append((4 if afi == 1 else 6, ms + 3, me))
        if a_e < e:
            announced.append((4, a_e, e, False))
        if mp_reach is not None:
            ms, me = mp_reach
            if me - ms >= 5:
                afi = (d[ms] << 8) | d[ms + 1]
                if d[ms + 2] == 1 and afi in (1, 2):
                    q = ms + 4 + d[ms + 3]
                    if q >= me:
                        raise _Bad("MP_REACH_NLRI next hop overruns the attribute")
                    snpas = d[q]
                    q += 1
                    for _ in range(snpas):
                        if q >= me:
                            raise _Bad("MP_REACH_NLRI SNPA list overruns the attribute")
                        q += 1 + (d[q] + 1) // 2
                    if q > me:
                        raise _Bad("MP_REACH_NLRI SNPA list overruns the attribute")
                    announced.append((6 if afi == 2 else 4, q, me, True))
        if not withdrawn and not announced:
            return  # End-of-RIB, or only multicast
        watch = self.watch
        state = self.state
        source = self.source_name
        stats = self.stats
        kept = self.out.origin_kept.get(peer)

        for version, bs, be in withdrawn:
            if state is not None or self.emit_all or kept:
                keys = split_nlri(d, bs, be, version, addpath)
                stats.withdrawals += len(keys)
                if state is not None:
                    state.withdraw_many(peer, version, keys, ts, source)
                if self.emit_all:
                    chosen = keys
                else:
                    chosen = watch.scan(version, d, bs, be, addpath) if watch is not None else []
                    if kept:
                        chosen = self._plus_kept(kept, version, keys, chosen)
            elif watch is not None:
                chosen = watch.scan(version, d, bs, be, addpath)
                stats.withdrawals += len(chosen)
            else:
                chosen = []
            if chosen:
                self._emit_withdrawals(ts, peer, version, chosen)

        if not announced:
            return
        blob = d[a_s:a_e]
        origin_hit = watch is not None and bool(watch.asn_needles) and watch.origin_watched(blob, asn4)
        attrs: _Attrs | None = None
        if state is not None:
            cache = self._attrs_cache4 if asn4 else self._attrs_cache
            attrs = cache.get(blob)
            if attrs is None:
                if len(cache) > 500_000:
                    cache.clear()
                attrs = cache[blob] = _Attrs(blob, asn4)
        for version, bs, be, mp in announced:
            need_all = state is not None or self.emit_all or origin_hit or kept
            keys = split_nlri(d, bs, be, version, addpath) if need_all else None
            if keys is not None:
                stats.announcements += len(keys)
            if state is not None:
                route = MrtRoute(attrs, ts, mp)  # type: ignore[arg-type]
                state.announce_many(peer, version, keys, route, ts, source)  # type: ignore[arg-type]
            if self.emit_all:
                chosen = keys
            elif origin_hit:
                chosen = keys
                self.out.origin_kept.setdefault(peer, _KeptRoutes()).update((version, k) for k in keys)  # type: ignore[union-attr]
            else:
                chosen = watch.scan(version, d, bs, be, addpath) if watch is not None else []
                if kept and keys:
                    # A watched-origin route replaced by one with another origin must come out.
                    chosen = self._plus_kept(kept, version, keys, chosen)
                if keys is None and chosen:
                    stats.announcements += len(chosen)
            if chosen:
                self._emit_announcements(ts, peer, version, chosen, blob, asn4, mp)

    @staticmethod
    def _plus_kept(kept: _KeptRoutes, version: int, keys: list[bytes], chosen: list[bytes]) -> list[bytes]:
        extra = [k for k in keys if (version, k) in kept]
        if not extra:
            return chosen
        kept.difference_update((version, k) for k in extra)
        return list(dict.fromkeys(chosen + extra))

    def _emit_withdrawals(self, ts: float, peer: PeerKey, version: int, keys: list[bytes]) -> None:
        events = self.out.events
        collector, ip, asn = peer
        source = self.source_name
        for key in keys:
            events.append(RouteWithdrawn(ts, collector, ip, asn, wire_key_to_prefix(version, key), source))

    def _emit_announcements(
        self, ts: float, peer: PeerKey, version: int, keys: list[bytes], blob: bytes, asn4: bool, mp: bool
    ) -> None:
        decoded = decode_attributes(blob, asn4)
        next_hop = (decoded.mp_next_hop or decoded.next_hop) if mp else (decoded.next_hop or decoded.mp_next_hop)
        events = self.out.events
        collector, ip, asn = peer
        source = self.source_name
        path, communities = decoded.as_path, decoded.communities
        for key in keys:
            prefix = wire_key_to_prefix(version, key)
            events.append(RouteAnnounced(ts, collector, ip, asn, prefix, path, next_hop, communities, source))

    # -- TABLE_DUMP_V2 --------------------------------------------------------------------------

    def _peer_index_table(self, d: bytes, s: int, e: int) -> None:
        p = s + 4
        if p + 2 > e:
            raise _Bad("PEER_INDEX_TABLE cut short")
        name_len = _U16(d, p)[0]
        p += 2
        if p + name_len + 2 > e:
            raise _Bad(f"PEER_INDEX_TABLE view name of {name_len} octets overruns the record")
        view = d[p : p + name_len].decode("utf-8", "replace")
        p += name_len
        count = _U16(d, p)[0]
        p += 2
        if self._collector is None and view.strip():
            # Untrusted text: keep printable characters only.
            cleaned = "".join(ch for ch in view.strip() if ch.isprintable())[:64]
            if cleaned:
                self._collector = cleaned
        peers: list[PeerKey] = []
        collector = self.collector
        for _ in range(count):
            if p + 1 > e:
                raise _Bad(f"PEER_INDEX_TABLE lists {count} peers but ends after {len(peers)}")
            ptype = d[p]
            iplen = 16 if ptype & 1 else 4
            aslen = 4 if ptype & 2 else 2
            stop = p + 5 + iplen + aslen
            if stop > e:
                raise _Bad(f"PEER_INDEX_TABLE lists {count} peers but ends after {len(peers)}")
            ip = _ip_text(bytes(d[p + 5 : p + 5 + iplen]))
            asn = int.from_bytes(d[p + 5 + iplen : stop], "big")
            peers.append(PeerKey(collector, ip, asn))
            p = stop
        self._peer_index = peers

    def _rib(self, ts: float, subtype: int, d: bytes, s: int, e: int) -> None:
        version, addpath = _TD2_RIB[subtype]
        bits = _WELL_KNOWN_BYTES[version]
        if s + 5 > e:
            raise _Bad("RIB record cut short")
        length = d[s + 4]
        if length > bits:
            raise _Bad(f"IPv{version} prefix length {length} > {bits}")
        nbytes = (length + 7) // 8
        p = s + 5 + nbytes
        if p + 2 > e:
            raise _Bad("RIB prefix cut short")
        key = d[s + 4 : p]
        spare = nbytes * 8 - length
        if spare and key[-1] & ((1 << spare) - 1):
            key = key[:-1] + bytes((key[-1] & (0xFF << spare) & 0xFF,))
        count = _U16(d, p)[0]
        p += 2
        index = self._peer_index
        if index is None:
            self._missing_index_reported = True
            raise _Bad("RIB record before any PEER_INDEX_TABLE: its peers cannot be named")
        self._rib_ts = ts
        watch = self.watch
        state = self.state
        relevant = self.emit_all or (watch is not None and watch.key_relevant(version, key))
        check_origin = not relevant and watch is not None and bool(watch.asn_needles)
        counts = self._rib_counts
        slot = 0 if version == 4 else 1
        source = self.source_name
        seen = self.out.seen_peers
        cache = self._attrs_cache4
        routes = self._route_cache
        mp = version == 6
        prefix: Prefix | None = None
        entries = 0
        fixed = 8 + (4 if addpath else 0)
        for _ in range(count):
            if p + fixed > e:
                raise _Bad(f"RIB record lists {count} entries but ends after {entries}")
            peer_no = (d[p] << 8) | d[p + 1]
            p += fixed - 2
            alen = (d[p] << 8) | d[p + 1]
            a_s = p + 2
            p = a_s + alen
            if p > e:
                raise _Bad(f"RIB entry {entries} attributes overrun the record")
            try:
                peer = index[peer_no]
            except IndexError:
                raise _Bad(f"RIB entry names peer {peer_no}, the PEER_INDEX_TABLE has {len(index)}") from None
            entries += 1
            tally = counts.get(peer)
            if tally is None:
                tally = counts[peer] = [0, 0]
            tally[slot] += 1
            if peer not in seen:
                self._seen(peer, ts)
            blob = d[a_s:p]
            if state is not None:
                route = routes.get((blob, mp, True))
                if route is None or route.since != ts:
                    attrs = cache.get(blob)
                    if attrs is None:
                        if len(cache) > 500_000:
                            cache.clear()
                            routes.clear()
                        attrs = cache[blob] = _Attrs(blob, True)
                    route = routes[(blob, mp, True)] = MrtRoute(attrs, ts, mp)
                state.announce(peer, version, key, route, ts, source)
            if relevant or (check_origin and watch.origin_watched(blob, True)):  # type: ignore[union-attr]
                if prefix is None:
                    prefix = wire_key_to_prefix(version, key)
                decoded = decode_attributes(blob, True)
                next_hop = (decoded.mp_next_hop or decoded.next_hop) if mp else (decoded.next_hop or decoded.mp_next_hop)
                self.out.events.append(
                    RouteAnnounced(ts, peer.collector, peer.peer_ip, peer.peer_asn, prefix, decoded.as_path, next_hop, decoded.communities, source)
                )
                if not relevant:
                    self.out.origin_kept.setdefault(peer, _KeptRoutes()).add((version, key))
        self.stats.announcements += entries

    # -- TABLE_DUMP (v1) ------------------------------------------------------------------------

    def _table_dump(self, ts: float, subtype: int, d: bytes, s: int, e: int) -> None:
        if subtype in (1, 3):
            version, iplen = 4, 4
        elif subtype in (2, 4):
            version, iplen = 6, 16
        else:
            raise _Bad(f"TABLE_DUMP subtype {subtype} unknown")
        aslen = 4 if subtype in (3, 4) else 2
        if s + 12 + 2 * iplen + aslen > e:
            raise _Bad("TABLE_DUMP record cut short")
        p = s + 4
        address = d[p : p + iplen]
        p += iplen
        length = d[p]
        bits = _WELL_KNOWN_BYTES[version]
        if length > bits:
            raise _Bad(f"IPv{version} prefix length {length} > {bits}")
        p += 6  # length, status, originated time
        peer_ip = _ip_text(bytes(d[p : p + iplen]))
        p += iplen
        asn = int.from_bytes(d[p : p + aslen], "big")
        p += aslen
        alen = _U16(d, p)[0]
        p += 2
        if p + alen > e:
            raise _Bad("TABLE_DUMP attributes overrun the record")
        blob = d[p : p + alen]
        prefix = Prefix(version, int.from_bytes(address, "big"), length)
        # Clear host bits (the v1 format carries a whole address).
        prefix = wire_key_to_prefix(version, prefix.wire_key)
        key = prefix.wire_key
        peer = PeerKey(self.collector, peer_ip, asn)
        self._rib_ts = ts
        tally = self._rib_counts.get(peer)
        if tally is None:
            tally = self._rib_counts[peer] = [0, 0]
        tally[0 if version == 4 else 1] += 1
        if peer not in self.out.seen_peers:
            self._seen(peer, ts)
        self.stats.announcements += 1
        asn4 = aslen == 4
        mp = version == 6
        if self.state is not None:
            cache = self._attrs_cache4 if asn4 else self._attrs_cache
            route = self._route_cache.get((blob, mp, asn4))
            if route is None or route.since != ts:
                attrs = cache.get(blob)
                if attrs is None:
                    if len(cache) > 500_000:
                        cache.clear()
                        self._route_cache.clear()
                    attrs = cache[blob] = _Attrs(blob, asn4)
                route = self._route_cache[(blob, mp, asn4)] = MrtRoute(attrs, ts, mp)
            self.state.announce(peer, version, key, route, ts, self.source_name)
        watch = self.watch
        relevant = self.emit_all or (watch is not None and watch.key_relevant(version, key))
        by_origin = not relevant and watch is not None and bool(watch.asn_needles) and watch.origin_watched(blob, asn4)
        if relevant or by_origin:
            decoded = decode_attributes(blob, asn4)
            next_hop = (decoded.mp_next_hop or decoded.next_hop) if mp else (decoded.next_hop or decoded.mp_next_hop)
            self.out.events.append(
                RouteAnnounced(ts, peer.collector, peer.peer_ip, peer.peer_asn, prefix, decoded.as_path, next_hop, decoded.communities, self.source_name)
            )
            if by_origin:
                self.out.origin_kept.setdefault(peer, _KeptRoutes()).add((version, key))

    # -- full-feed peers ------------------------------------------------------------------------

    def _declare_full_feed(self) -> None:
        counts = self._rib_counts
        ts = self._rib_ts if self._rib_ts is not None else 0.0
        # One declaration per IP version: a full IPv4 table says nothing about IPv6.
        for version, index in ((4, 0), (6, 1)):
            largest = max((c[index] for c in counts.values()), default=0)
            if not largest:
                continue
            cut = largest * FULL_FEED_SHARE
            chosen = tuple(
                sorted(
                    (peer for peer, n in counts.items() if n[index] >= cut),
                    key=lambda k: (k.collector, k.peer_ip, k.peer_asn),
                )
            )
            event = FullFeedPeers(ts, chosen, "rib size", self.source_name, version)
            self.out.events.append(event)
            if self.state is not None:
                self.state.apply(event)
        self._rib_counts = {}


# -- readers ----------------------------------------------------------------------------------------

DEFAULT_BATCH_RECORDS = 2000


class MrtReader:
    """Iterates over event batches of one or more MRT sources; ``stats`` counts as it goes.

    Iterate once. Batches come out in file (or, for several files, timestamp) order; a batch is
    yielded after every ``batch_records`` records that produced any event, and at the end.
    """

    def __init__(
        self,
        sources: list[Source],
        *,
        watchlist: Watchlist | None,
        state: RouteState | None,
        collector: str | None,
        source: str,
        batch_records: int = DEFAULT_BATCH_RECORDS,
    ) -> None:
        self._out = _Output()
        self._watch = _WatchFilter(watchlist) if watchlist is not None else None
        self._decoders = [
            _FileDecoder(src, self._out, watch=self._watch, state=state, collector=collector, source_name=source)
            for src in sources
        ]
        self._batch_records = max(1, batch_records)
        self._iterator: Iterator[list[Event]] | None = None
        self._stats = MrtStats(files=0)

    @property
    def stats(self) -> MrtStats:
        """Counters summed over all files (live while iterating)."""
        total = MrtStats(files=0)
        for decoder in self._decoders:
            total.add(decoder.stats)
        total.events = self._stats.events
        return total

    @property
    def file_stats(self) -> dict[str, MrtStats]:
        """Counters per file (by path as given)."""
        return {decoder.path: decoder.stats for decoder in self._decoders}

    def __iter__(self) -> Iterator[list[Event]]:
        return self

    def __next__(self) -> list[Event]:
        if self._iterator is None:
            self._iterator = self._batches()
        return next(self._iterator)

    def _batches(self) -> Iterator[list[Event]]:
        out = self._out
        watch = self._watch
        if len(self._decoders) == 1:
            decoder = self._decoders[0]
            for _ in decoder.records(True, self._batch_records):
                if out.events:
                    yield self._take()
                if watch is not None:
                    watch.refresh()
        else:
            streams = [_tagged(i, decoder) for i, decoder in enumerate(self._decoders)]
            countdown = self._batch_records
            for _, _, process, record in heapq.merge(*streams, key=itemgetter(0, 1)):
                process(*record)
                countdown -= 1
                if not countdown:
                    countdown = self._batch_records
                    if out.events:
                        yield self._take()
                    if watch is not None:
                        watch.refresh()
        if out.events:
            yield self._take()

    def _take(self) -> list[Event]:
        batch = self._out.events
        self._out.events = []
        self._stats.events += len(batch)
        return batch


def _tagged(index: int, decoder: _FileDecoder) -> Iterator[tuple[float, int, Callable[..., None], tuple[Any, ...]]]:
    """One file's records keyed for the merge: (ts, file index) orders them, ties by file order."""
    process = decoder.process
    for record in decoder.records():
        yield record[0], index, process, record


def read_mrt(
    path_or_file: Source,
    *,
    watchlist: Watchlist | None = None,
    state: RouteState | None = None,
    collector: str | None = None,
    source: str = "mrt",
    batch_records: int = DEFAULT_BATCH_RECORDS,
) -> MrtReader:
    """Event batches from one MRT file (path or binary file object), in file order.

    - no ``watchlist`` and no ``state``: every route comes out as an event;
    - ``watchlist``: only routes related to a watched prefix (equal, inside, covering) or
      originated by a watched ASN come out as events;
    - ``state``: every route goes straight into ``state`` (no event); watched ones still come
      out as events when a ``watchlist`` is given.

    Peer state changes, PeerSeen (once per session), FullFeedPeers (after a RIB),
    RecordRejected and a final FeedStatus ``ended`` always come out. The returned reader's
    ``stats`` counts records, rejections and truncation.
    """
    return MrtReader(
        [path_or_file], watchlist=watchlist, state=state, collector=collector, source=source, batch_records=batch_records
    )


def read_mrt_files(
    paths: Iterable[str | PathLike[str]],
    *,
    watchlist: Watchlist | None = None,
    state: RouteState | None = None,
    source: str = "mrt",
    batch_records: int = DEFAULT_BATCH_RECORDS,
) -> MrtReader:
    """Event batches from several MRT files merged in timestamp order (a RIB then updates).

    Each file's collector comes from its path (``rrc15``, ``route-views.jinx``...), else from
    its PEER_INDEX_TABLE view name, else from the file name. Otherwise as :func:`read_mrt`.
    """
    return MrtReader(
        list(paths), watchlist=watchlist, state=state, collector=None, source=source, batch_records=batch_records
    )


