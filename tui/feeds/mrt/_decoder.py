"""One MRT file (or stream) read record by record into events: the heart of the reader.

Framing walks one ``bytes`` buffer with struct offsets; each record type has a handler that
decodes only what is kept. A record that cannot be read is rejected (a RecordRejected with
the byte offset) and reading goes on; see the package's docstring for what is read and how.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from os import PathLike, fspath
from typing import IO, Any, BinaryIO

from tui.core.attributes import AttributesError, DecodedAttributes, PathAttributes, decode_attributes, walk_attributes
from tui.core.events import (
    BulkRoutes,
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
from tui.core.prefixes import Prefix, WireKey, wire_key_to_prefix
from tui.core.routes import FULL_FEED_SHARE
from tui.core.wirekeys import tokenizer
from tui.feeds.mrt._container import StreamEnd, container_chunks
from tui.feeds.mrt._filter import KeptRoutes, WatchFilter
from tui.feeds.mrt._naming import collector_from_path, file_stem, short_path
from tui.feeds.mrt._nlri import split_nlri
from tui.feeds.mrt._stats import MrtStats
from tui.feeds.mrt._wire import (
    BGP4MP,
    BGP4MP_ET,
    BGP4MP_LOCAL,
    BGP4MP_MESSAGE,
    BGP4MP_STATE,
    ET_TYPES,
    HEADER,
    KNOWN_TYPES,
    MARKER,
    MAX_RECORD,
    MP_HINT,
    PREFIX_BITS,
    TABLE_DUMP,
    TABLE_DUMP_V2,
    TD2_PEER_INDEX,
    TD2_RIB,
    U16,
    U32,
    MrtError,
    ip_text,
    state_name,
)

__all__ = ["FileDecoder", "Output", "Source"]

Source = str | PathLike[str] | BinaryIO | IO[bytes]

_TOKENIZE4 = tokenizer(4).findall
"""Splits a run of IPv4 wire keys in C (whole-table updates call it twice per record)."""

_INTERN_LIMIT = 500_000
"""Distinct attribute blobs interned per file before the cache starts over (memory bound)."""

RibGroup = tuple[PeerKey, int, PathAttributes, float]
"""(session, IP version, attributes, time): RIB entries that go out as one BulkRoutes."""


class Output:
    """Where every decoder of one reader puts its events, in processing order."""

    __slots__ = ("events", "seen_peers", "origin_kept", "rib_groups", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.events: list[Event] = []
        self.seen_peers: set[PeerKey] = set()
        self.origin_kept: dict[PeerKey, KeptRoutes] = {}
        """Routes kept only because their origin is a watched ASN: their withdrawals and
        replacements must come out too, or the filtered state would hold stale routes."""
        self.rib_groups: dict[RibGroup, list[WireKey]] = {}
        """RIB entries bound for BulkRoutes, gathered by session and attributes. A RIB names each
        (session, prefix) once, so gathering across records changes nothing as long as they go
        out before any event that could touch the same routes (:meth:`push`, updates)."""

    def push(self, event: Event) -> None:
        """Append an event that must come after every RIB route read before it."""
        if self.rib_groups:
            self.flush()
        self.events.append(event)

    def flush(self) -> None:
        """Turn the gathered RIB entries into BulkRoutes events."""
        groups, self.rib_groups = self.rib_groups, {}
        append = self.events.append
        source = self.source
        for (peer, version, attributes, ts), keys in groups.items():
            append(
                BulkRoutes(
                    ts, peer.collector, peer.peer_ip, peer.peer_asn, version, tuple(keys), attributes, (), version == 6, source
                )
            )


def _without(keys: list[WireKey], chosen: list[WireKey]) -> list[WireKey]:
    """``keys`` less the ones sent individually (usually none, so usually ``keys`` itself)."""
    if not chosen:
        return keys
    taken = set(chosen)
    return [k for k in keys if k not in taken]


def _next_hop(decoded: DecodedAttributes, mp: bool) -> str:
    """The next hop a route is used with: MP_REACH's for a multiprotocol route, NEXT_HOP's otherwise."""
    return (decoded.mp_next_hop or decoded.next_hop) if mp else (decoded.next_hop or decoded.mp_next_hop)


def _holds_any(d: bytes, start: int, end: int, needles: tuple[bytes, ...]) -> bool:
    """Whether any of ``needles`` occurs in ``d[start:end]`` (searched in C, nothing copied)."""
    for needle in needles:  # noqa: SIM110 - a hot path: any() over a generator costs more
        if d.find(needle, start, end) >= 0:
            return True
    return False


class _Bad(Exception):
    """A record-level failure (internal): the record is rejected and reading goes on."""


class FileDecoder:
    """Reads one MRT file or stream and turns its records into events."""

    def __init__(
        self,
        source: Source,
        out: Output,
        *,
        watch: WatchFilter | None,
        bulk: frozenset[int],
        collector: str | None,
        source_name: str,
    ) -> None:
        self.out = out
        self.watch = watch
        self.bulk = bulk
        """IP versions whose routes that concern no specific watch go out as BulkRoutes."""
        self.source_name = source_name
        self.emit_all = watch is None and not bulk
        self._watch_only = watch is not None and not bulk
        self._table4 = 4 in bulk
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
        self.display_name = short_path(self.path)
        self._peer_cache: dict[bytes, PeerKey] = {}
        self._td1_tally: dict[bytes, list[Any]] = {}
        """TABLE_DUMP peer field (address and ASN octets) -> [session, IPv4 entries, IPv6
        entries, known to be in seen_peers]; folded into ``_rib_counts`` at the end."""
        self._peer_index: list[PeerKey] | None = None
        self._rib_counts: dict[PeerKey, list[int]] = {}
        self._index_tally: tuple[list[int], list[int]] = ([], [])
        """RIB entries per PEER_INDEX_TABLE position (IPv4, IPv6), counted where nothing of a
        record is kept; folded into ``_rib_counts`` by :meth:`_fold_tallies`."""
        self._rib_ts: float | None = None
        self._interned: dict[bytes, PathAttributes] = {}
        self._interned4: dict[bytes, PathAttributes] = {}
        self._missing_index_reported = False
        self._last_ts: float | None = None
        message = self._message_watched if self._watch_only else self._bgp4mp
        self._handlers: dict[int, Callable[[float, int, bytes, int, int], None]] = {
            BGP4MP: message,
            BGP4MP_ET: message,
            TABLE_DUMP_V2: self._table_dump_v2,
            TABLE_DUMP: self._table_dump,
        }

    # -- naming ---------------------------------------------------------------------------------

    @property
    def collector(self) -> str:
        """The collector name given, found in the path, from the PEER_INDEX_TABLE, or the stem."""
        if self._collector is None:
            self._collector = file_stem(self.path)
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
        end_state = StreamEnd()
        try:
            fileobj = self._fileobj if self._fileobj is not None else open(self.path, "rb")  # noqa: SIM115
        except OSError as exc:
            self._reject(0.0, 0, f"cannot open: {exc.strerror or exc}")
            self._finish("could not be opened")
            return
        buf = b""
        base = 0
        header = HEADER
        u32 = U32
        known = KNOWN_TYPES
        et_types = ET_TYPES
        max_record = MAX_RECORD
        handlers = self._handlers
        countdown = every
        count = 0
        last: float | None = None
        try:
            for chunk in container_chunks(fileobj, end_state):
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
                            self._reject(
                                float(ts), base + pos, f"extended-timestamp record of {length} octets has no microseconds"
                            )
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
                            except (_Bad, MrtError, AttributesError) as exc:
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
        self._fold_tallies()
        if self._rib_counts:
            self._declare_full_feed()
        if self._peer_index is None and self._missing_index_reported:
            problem = (problem + "; " if problem else "") + "RIB records without a PEER_INDEX_TABLE could not be attributed"
        detail = f"{self.display_name}: {stats.records} records, {stats.rejected} rejected"
        if problem:
            detail += f"; {problem}"
        ts = stats.last_ts if stats.last_ts is not None else 0.0
        self.out.push(FeedStatus(ts, self.source_name, "ended", detail))

    # -- dispatch -------------------------------------------------------------------------------

    def process(self, ts: float, rtype: int, subtype: int, data: bytes, start: int, end: int, offset: int) -> None:
        """Decode one record from :meth:`records`; anything wrong with it becomes a RecordRejected."""
        self._last_ts = ts
        handler = self._handlers.get(rtype)
        if handler is None:
            self.stats.skipped += 1
            return
        head = start - (16 if rtype in ET_TYPES else 12)
        try:
            handler(ts, subtype, data, start, end)
        except (_Bad, MrtError, AttributesError) as exc:
            self._reject(ts, offset, str(exc), data[head : min(end, head + 32)])
        except (IndexError, struct.error):
            self._reject(ts, offset, "record shorter than its fields", data[head : min(end, head + 32)])

    def _table_dump_v2(self, ts: float, subtype: int, d: bytes, s: int, e: int) -> None:
        if subtype in TD2_RIB:
            self._rib(ts, subtype, d, s, e)
        elif subtype == TD2_PEER_INDEX:
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

    def _intern(self, blob: bytes, asn4: bool) -> PathAttributes:
        """The one PathAttributes object for ``blob`` (decoded once, however many routes share it)."""
        cache = self._interned4 if asn4 else self._interned
        attrs = cache.get(blob)
        if attrs is None:
            if len(cache) > _INTERN_LIMIT:
                cache.clear()
            attrs = cache[blob] = PathAttributes(blob, asn4)
        return attrs

    # -- BGP4MP ---------------------------------------------------------------------------------

    def _bgp4mp(self, ts: float, subtype: int, d: bytes, s: int, e: int) -> None:
        if self.out.rib_groups:
            self.out.flush()  # an update must come after the RIB routes it changes
        width = BGP4MP_MESSAGE.get(subtype)
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
        if not d.startswith(MARKER, p):
            raise _Bad("BGP message marker is not all ones")
        size = (d[p + 16] << 8) | d[p + 17]
        if size < 19 or p + size > e:
            raise _Bad(f"BGP message length {size} does not fit the {e - p} octets of the record")
        if d[p + 18] != 2:
            self.stats.skipped += 1  # OPEN, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH
            return
        if subtype > 5:
            if subtype in BGP4MP_LOCAL:
                # What the collector sent to the peer: not a route the peer holds.
                self.stats.skipped += 1
                return
            self._update(ts, peer, d, p + 19, p + size, width == 4, True)
        elif self._watch_only:
            self._update_watched(ts, peer, d, p + 19, p + size, width == 4)
        elif self._table4:
            self._update_table(ts, peer, d, p + 19, p + size, width == 4)
        else:
            self._update(ts, peer, d, p + 19, p + size, width == 4, False)

    def _message_watched(self, ts: float, subtype: int, d: bytes, s: int, e: int) -> None:
        """BGP4MP with a watchlist only: an UPDATE from a known IPv4 session straight to
        :meth:`_update_watched`; anything else (and anything wrong) through :meth:`_bgp4mp`."""
        if subtype == 1:
            asn4 = False
            p = s + 16  # ASNs, interface, AFI, two IPv4 addresses
        elif subtype == 4:
            asn4 = True
            p = s + 20
        else:
            self._bgp4mp(ts, subtype, d, s, e)
            return
        peer = self._peer_cache.get(d[s:p])
        if (
            peer is None
            or p + 19 > e
            or not d.startswith(b"\x00\x01", p - 10)
            or not d.startswith(MARKER, p)
            or self.out.rib_groups
        ):
            self._bgp4mp(ts, subtype, d, s, e)
            return
        size = (d[p + 16] << 8) | d[p + 17]
        if size < 19 or p + size > e:
            self._bgp4mp(ts, subtype, d, s, e)
            return
        if d[p + 18] != 2:
            self.stats.skipped += 1  # OPEN, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH
            return
        self._update_watched(ts, peer, d, p + 19, p + size, asn4)

    def _bgp4mp_state(self, ts: float, subtype: int, d: bytes, s: int, e: int) -> None:
        width = BGP4MP_STATE.get(subtype)
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
        return PeerKey(self.collector, ip_text(hkey[ip_start : ip_start + iplen]), asn)

    def _new_peer(self, ts: float, hkey: bytes, width: int, subtype: int) -> PeerKey:
        peer = self._peer_from_header(hkey, width)
        if subtype in BGP4MP_LOCAL:
            return peer  # not cached: the first message *from* the peer must still say PeerSeen
        if len(self._peer_cache) > 100_000:
            self._peer_cache.clear()
        self._peer_cache[hkey] = peer
        if peer not in self.out.seen_peers:
            self._seen(peer, ts)
        return peer

    def _state_change(self, ts: float, peer: PeerKey, old: int, new: int) -> None:
        self.stats.state_changes += 1
        event = PeerStateChanged(
            ts, peer.collector, peer.peer_ip, peer.peer_asn, state_name(old), state_name(new), self.source_name
        )
        self.out.push(event)
        if new != 6:
            self.out.origin_kept.pop(peer, None)

    def _frame_update(self, peer: PeerKey, d: bytes, s: int, e: int) -> tuple[int, int, int] | None:
        """(end of the withdrawn routes, start and end of the attributes) of an UPDATE body for
        the lean paths, or None when it needs the general one (it may hold MP_REACH/MP_UNREACH,
        or name a route kept for a watched origin); raises on a body that does not add up."""
        if s + 4 > e:
            raise _Bad("UPDATE cut short")
        we = s + 2 + ((d[s] << 8) | d[s + 1])
        if we + 2 > e:
            raise _Bad("withdrawn-routes length overruns the UPDATE")
        a_s = we + 2
        a_e = a_s + ((d[we] << 8) | d[we + 1])
        if a_e > e:
            raise _Bad("path-attributes length overruns the UPDATE")
        if a_e > a_s and MP_HINT(d, a_s, a_e) is not None:
            return None
        kept = self.out.origin_kept.get(peer) if self.out.origin_kept else None
        if kept and (kept.may_touch(d, s + 2, we) or kept.may_touch(d, a_e, e)):
            return None
        return we, a_s, a_e

    def _update_watched(self, ts: float, peer: PeerKey, d: bytes, s: int, e: int, asn4: bool) -> None:
        """The common case, kept lean: watchlist only, no ADD-PATH, and (checked here) no MP."""
        framed = self._frame_update(peer, d, s, e)
        if framed is None:
            self._update(ts, peer, d, s, e, asn4, False)
            return
        we, a_s, a_e = framed
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
                        self.out.origin_kept.setdefault(peer, KeptRoutes()).update((4, k) for k in chosen)
                    break
            if chosen:
                self.stats.announcements += len(chosen)
                self._emit_announcements(ts, peer, 4, chosen, d[a_s:a_e], asn4, False)

    def _update_table(self, ts: float, peer: PeerKey, d: bytes, s: int, e: int, asn4: bool) -> None:
        """The whole-table common case, kept lean: IPv4 in the UPDATE body, nothing watched in it."""
        framed = self._frame_update(peer, d, s, e)
        if framed is None:
            self._update(ts, peer, d, s, e, asn4, False)
            return
        we, a_s, a_e = framed
        watch = self.watch
        if watch is not None:
            skip_all = watch.skip_all4
            if skip_all is not None and (
                (we > s + 2 and skip_all(d, s + 2, we) is None) or (a_e < e and skip_all(d, a_e, e) is None)
            ):
                self._update(ts, peer, d, s, e, asn4, False)  # a watched prefix may be in it
                return
            for needle in watch.asn_needles:
                if d.find(needle, a_s, a_e) >= 0:
                    self._update(ts, peer, d, s, e, asn4, False)  # a watched origin may be in it
                    return
        split = _TOKENIZE4
        withdrawn: list[WireKey] = []
        if we > s + 2:
            withdrawn = split(d, s + 2, we)
            if sum(map(len, withdrawn)) != we - s - 2:
                withdrawn = split_nlri(d, s + 2, we, 4)  # sloppy host bits or a bad length: the exact path
        announced: list[WireKey] = []
        attributes = None
        if a_e < e:
            announced = split(d, a_e, e)
            if sum(map(len, announced)) != e - a_e:
                announced = split_nlri(d, a_e, e, 4)
            blob = d[a_s:a_e]
            cache = self._interned4 if asn4 else self._interned
            attributes = cache.get(blob) or self._intern(blob, asn4)
        self.stats.withdrawals += len(withdrawn)
        self.stats.announcements += len(announced)
        if withdrawn or announced:
            self.out.events.append(BulkRoutes(
                ts, peer.collector, peer.peer_ip, peer.peer_asn, 4, tuple(announced),
                attributes if announced else None, tuple(withdrawn), False, self.source_name,
            ))

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
        if alen and MP_HINT(d, a_s, a_e) is not None:
            found = walk_attributes(d, a_s, a_e)
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
        bulk = self.bulk
        stats = self.stats
        kept = self.out.origin_kept.get(peer)
        # Withdrawals of one version that go out in bulk ride with its first announced block.
        bulk_withdrawn: dict[int, list[WireKey]] = {}

        for version, bs, be in withdrawn:
            in_bulk = version in bulk
            if in_bulk or self.emit_all or kept:
                keys = split_nlri(d, bs, be, version, addpath)
                stats.withdrawals += len(keys)
                if self.emit_all:
                    chosen = keys
                else:
                    chosen = watch.scan(version, d, bs, be, addpath) if watch is not None else []
                    if kept:
                        chosen = self._plus_kept(kept, version, keys, chosen)
                    if in_bulk:
                        rest = _without(keys, chosen)
                        if rest:
                            bulk_withdrawn.setdefault(version, []).extend(rest)
            elif watch is not None:
                chosen = watch.scan(version, d, bs, be, addpath)
                stats.withdrawals += len(chosen)
            else:
                chosen = []
            if chosen:
                self._emit_withdrawals(ts, peer, version, chosen)

        if announced:
            blob = d[a_s:a_e]
            origin_hit = watch is not None and bool(watch.asn_needles) and watch.origin_watched(blob, asn4)
            for version, bs, be, mp in announced:
                in_bulk = version in bulk
                need_all = in_bulk or self.emit_all or origin_hit or kept
                split = split_nlri(d, bs, be, version, addpath) if need_all else None
                if split is not None:
                    stats.announcements += len(split)
                if self.emit_all:
                    assert split is not None  # need_all: the block was split
                    chosen = split
                elif origin_hit:
                    assert split is not None  # need_all: the block was split
                    chosen = split
                    self.out.origin_kept.setdefault(peer, KeptRoutes()).update((version, k) for k in split)
                else:
                    chosen = watch.scan(version, d, bs, be, addpath) if watch is not None else []
                    if kept and split:
                        # A watched-origin route replaced by one with another origin must come out.
                        chosen = self._plus_kept(kept, version, split, chosen)
                    if split is None and chosen:
                        stats.announcements += len(chosen)
                if in_bulk:
                    assert split is not None  # need_all: the block was split
                    rest = _without(split, chosen)
                    gone = bulk_withdrawn.pop(version, ())
                    if rest or gone:
                        self.out.events.append(BulkRoutes(
                            ts, peer.collector, peer.peer_ip, peer.peer_asn, version, tuple(rest),
                            self._intern(blob, asn4) if rest else None, tuple(gone), mp, self.source_name,
                        ))
                if chosen:
                    self._emit_announcements(ts, peer, version, chosen, blob, asn4, mp)
        for version, gone in bulk_withdrawn.items():
            self.out.events.append(BulkRoutes(
                ts, peer.collector, peer.peer_ip, peer.peer_asn, version, (), None, tuple(gone), False, self.source_name,
            ))

    @staticmethod
    def _plus_kept(kept: KeptRoutes, version: int, keys: list[bytes], chosen: list[bytes]) -> list[bytes]:
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
        next_hop = _next_hop(decoded, mp)
        events = self.out.events
        collector, ip, asn = peer
        source = self.source_name
        path, communities = decoded.as_path, decoded.communities
        for key in keys:
            prefix = wire_key_to_prefix(version, key)
            events.append(RouteAnnounced(ts, collector, ip, asn, prefix, path, next_hop, communities, source))

    def _announce(self, ts: float, peer: PeerKey, prefix: Prefix, blob: bytes, asn4: bool, mp: bool) -> None:
        """One RIB entry kept as an event (a RIB record names one prefix: its peers share the text)."""
        decoded = decode_attributes(blob, asn4)
        collector, ip, asn = peer
        path, next_hop, communities = decoded.as_path, _next_hop(decoded, mp), decoded.communities
        self.out.events.append(RouteAnnounced(ts, collector, ip, asn, prefix, path, next_hop, communities, self.source_name))

    # -- TABLE_DUMP_V2 --------------------------------------------------------------------------

    def _peer_index_table(self, d: bytes, s: int, e: int) -> None:
        p = s + 4
        if p + 2 > e:
            raise _Bad("PEER_INDEX_TABLE cut short")
        name_len = U16(d, p)[0]
        p += 2
        if p + name_len + 2 > e:
            raise _Bad(f"PEER_INDEX_TABLE view name of {name_len} octets overruns the record")
        view = d[p : p + name_len].decode("utf-8", "replace")
        p += name_len
        count = U16(d, p)[0]
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
            ip = ip_text(bytes(d[p + 5 : p + 5 + iplen]))
            asn = int.from_bytes(d[p + 5 + iplen : stop], "big")
            peers.append(PeerKey(collector, ip, asn))
            p = stop
        self._fold_tallies()
        self._peer_index = peers
        self._index_tally = ([0] * len(peers), [0] * len(peers))

    def _fold_tallies(self) -> None:
        """Add the TABLE_DUMP per-peer-field and TABLE_DUMP_V2 per-position counts to the
        per-session ones (at the end, and before a new PEER_INDEX_TABLE replaces the index)."""
        counts = self._rib_counts
        for tally in self._td1_tally.values():
            if tally[1] or tally[2]:
                total = counts.get(tally[0])
                if total is None:
                    total = counts[tally[0]] = [0, 0]
                total[0] += tally[1]
                total[1] += tally[2]
                tally[1] = tally[2] = 0
        index = self._peer_index
        if index is None:
            return
        for slot, tally in enumerate(self._index_tally):
            for position, n in enumerate(tally):
                if n:
                    peer = index[position]
                    total = counts.get(peer)
                    if total is None:
                        total = counts[peer] = [0, 0]
                    total[slot] += n
                    tally[position] = 0

    def _rib(self, ts: float, subtype: int, d: bytes, s: int, e: int) -> None:
        version, addpath = TD2_RIB[subtype]
        bits = PREFIX_BITS[version]
        if s + 5 > e:
            raise _Bad("RIB record cut short")
        length = d[s + 4]
        if length > bits:
            raise _Bad(f"IPv{version} prefix length {length} > {bits}")
        nbytes = (length + 7) // 8
        p = s + 5 + nbytes
        if p + 2 > e:
            raise _Bad("RIB prefix cut short")
        count = (d[p] << 8) | d[p + 1]
        p += 2
        index = self._peer_index
        if index is None:
            self._missing_index_reported = True
            raise _Bad("RIB record before any PEER_INDEX_TABLE: its peers cannot be named")
        self._rib_ts = ts
        watch = self.watch
        in_bulk = version in self.bulk
        fixed = 8 + (4 if addpath else 0)
        if (
            not in_bulk
            and not self.emit_all
            and (
                watch is None
                or (
                    # the prefix's first octet, then the exact test; then the ASNs' octets
                    (
                        (length >= 8 and not watch.first_octets[version][d[s + 5]])
                        or not watch.key_relevant(version, self._rib_key(d, s, p - 2, length))
                    )
                    and not _holds_any(d, p, e, watch.asn_needles)
                )
            )
        ):
            # Nothing of this record is kept (its prefix is unrelated to every watch, and no
            # watched ASN's octets occur in it): only count each session's table (full-feed
            # peers), by PEER_INDEX_TABLE position, with no object made per entry.
            tally = self._index_tally[0 if version == 4 else 1]
            last = e - fixed  # an entry's fixed part must start at or before this
            entry = 0
            peer_no = 0
            try:
                for entry in range(count):
                    if p > last:
                        raise _Bad(f"RIB record lists {count} entries but ends after {entry}")
                    peer_no = (d[p] << 8) | d[p + 1]
                    p += fixed
                    p += (d[p - 2] << 8) | d[p - 1]
                    if p > e:
                        raise _Bad(f"RIB entry {entry} attributes overrun the record")
                    n = tally[peer_no]
                    tally[peer_no] = n + 1
                    if not n and index[peer_no] not in self.out.seen_peers:
                        # first counted here: the session may be new (a PeerSeen, in entry order)
                        self._seen(index[peer_no], ts)
            except IndexError:
                raise _Bad(f"RIB entry names peer {peer_no}, the PEER_INDEX_TABLE has {len(index)}") from None
            self.stats.announcements += count
            return
        key = self._rib_key(d, s, p - 2, length)
        relevant = self.emit_all or (watch is not None and watch.key_relevant(version, key))
        check_origin = not relevant and watch is not None and bool(watch.asn_needles)
        counts = self._rib_counts
        slot = 0 if version == 4 else 1
        seen = self.out.seen_peers
        entries = 0
        mp = version == 6
        groups = self.out.rib_groups
        prefix: Prefix | None = None
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
            peer_tally = counts.get(peer)
            if peer_tally is None:
                peer_tally = counts[peer] = [0, 0]
            peer_tally[slot] += 1
            if peer not in seen:
                self._seen(peer, ts)
            blob = d[a_s:p]
            if relevant or (check_origin and watch.origin_watched(blob, True)):  # type: ignore[union-attr]
                if prefix is None:
                    prefix = wire_key_to_prefix(version, key)
                self._announce(ts, peer, prefix, blob, True, mp)
                if not relevant:
                    self.out.origin_kept.setdefault(peer, KeptRoutes()).add((version, key))
            elif in_bulk:
                group = (peer, version, self._intern(blob, True), ts)
                keys = groups.get(group)
                if keys is None:
                    groups[group] = [key]
                else:
                    keys.append(key)
        self.stats.announcements += entries

    @staticmethod
    def _rib_key(d: bytes, s: int, stop: int, length: int) -> WireKey:
        """The wire key of a RIB record's prefix (``d[s + 4 : stop]``), host bits cleared."""
        key = d[s + 4 : stop]
        spare = -length % 8
        if spare and key[-1] & ((1 << spare) - 1):
            key = key[:-1] + bytes((key[-1] & (0xFF << spare) & 0xFF,))
        return key

    # -- TABLE_DUMP (v1) ------------------------------------------------------------------------

    def _table_dump(self, ts: float, subtype: int, d: bytes, s: int, e: int) -> None:
        if subtype == 1 or subtype == 3:
            version, iplen = 4, 4
        elif subtype == 2 or subtype == 4:
            version, iplen = 6, 16
        else:
            raise _Bad(f"TABLE_DUMP subtype {subtype} unknown")
        aslen = 4 if subtype > 2 else 2
        if s + 12 + 2 * iplen + aslen > e:
            raise _Bad("TABLE_DUMP record cut short")
        p = s + 4
        length = d[p + iplen]
        if length > PREFIX_BITS[version]:
            raise _Bad(f"IPv{version} prefix length {length} > {PREFIX_BITS[version]}")
        q = p + iplen + 6  # prefix, length, status, originated time
        who = d[q : q + iplen + aslen]
        tally = self._td1_tally.get(who)
        if tally is None:
            peer = PeerKey(self.collector, ip_text(who[:iplen]), int.from_bytes(who[iplen:], "big"))
            tally = self._td1_tally[who] = [peer, 0, 0, False]
        q += iplen + aslen
        alen = (d[q] << 8) | d[q + 1]
        q += 2
        if q + alen > e:
            raise _Bad("TABLE_DUMP attributes overrun the record")
        self._rib_ts = ts
        tally[1 if version == 4 else 2] += 1
        if not tally[3]:
            tally[3] = True  # from here on the session is in seen_peers
            if tally[0] not in self.out.seen_peers:
                self._seen(tally[0], ts)
        self.stats.announcements += 1
        watch = self.watch
        if (
            watch is not None
            and not self.emit_all
            and version not in self.bulk
            and length >= 8
            and not watch.first_octets[version][d[p]]
            and not _holds_any(d, q, q + alen, watch.asn_needles)
        ):
            return  # the common case, decided from the raw octets: nothing of it is kept
        nbytes = (length + 7) >> 3
        # The v1 format carries a whole address: the wire key is its significant octets.
        key = d[p + iplen : p + iplen + 1] + d[p : p + nbytes]
        spare = nbytes * 8 - length
        if spare and key[-1] & ((1 << spare) - 1):
            key = key[:-1] + bytes((key[-1] & (0xFF << spare) & 0xFF,))
        peer = tally[0]
        p = q
        relevant = self.emit_all or (watch is not None and watch.key_relevant(version, key))
        if not relevant and version not in self.bulk and (watch is None or not watch.asn_needles):
            return
        asn4 = aslen == 4
        blob = d[p : p + alen]
        by_origin = not relevant and watch is not None and bool(watch.asn_needles) and watch.origin_watched(blob, asn4)
        if relevant or by_origin:
            self._announce(ts, peer, wire_key_to_prefix(version, key), blob, asn4, version == 6)
            if by_origin:
                self.out.origin_kept.setdefault(peer, KeptRoutes()).add((version, key))
        elif version in self.bulk:
            group = (peer, version, self._intern(blob, asn4), ts)
            keys = self.out.rib_groups.get(group)
            if keys is None:
                self.out.rib_groups[group] = [key]
            else:
                keys.append(key)

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
            self.out.push(FullFeedPeers(ts, chosen, "rib size", self.source_name, version))
        self._rib_counts = {}
