"""The watch filter: "could this NLRI, this path, matter to a watch?" without building objects.

Each NLRI block is scanned by a compiled regular expression that steps over non-matching
prefixes in C and stops only at a prefix whose first octet could relate to a watched prefix;
only those are decoded and checked exactly. The AS path is looked at only when the watchlist
has ASNs, and only when the ASN's bytes occur in the attributes at all. Whole-table watches
(``0.0.0.0/0``, ``::/0``) are not part of it: they concern every prefix, which the reader
handles in bulk instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from tui.core.aspath import origin_of
from tui.core.attributes import AttributesError, decode_attributes
from tui.core.prefixes import Prefix, PrefixError, wire_key_to_prefix
from tui.core.watchlist import Watchlist
from tui.core.wirekeys import scanner, skipper
from tui.feeds.mrt._nlri import split_nlri

__all__ = ["KeptRoutes", "WatchFilter"]


def _never(data: bytes, start: int, end: int) -> None:
    """A ``skip_all`` that never skips."""
    return None


class WatchFilter:
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
        self.first_octets: dict[int, bytes] = {4: bytes(256), 6: bytes(256)}
        """Per IP version, a 256-octet table: non-zero at each first octet that a prefix of
        /8 or longer must have to relate to a watched prefix. A reader tests a prefix's first
        octet there, straight from the wire, before building anything (:meth:`key_relevant`
        answers False for a /8-or-longer whose octet is zero here)."""
        self._cache: dict[tuple[int, bytes], bool] = {}
        self.refresh()

    def refresh(self) -> None:
        """Rebuild when the watchlist grew (an ASN or country expansion arrived)."""
        size = len(self.watchlist.trie) + 7919 * len(self.watchlist.watched_asns())
        if size == self._size:
            return
        self._size = size
        firsts: dict[int, set[int]] = {4: set(), 6: set()}
        for prefix in self.watchlist.specific_prefixes():
            bits = prefix.bits
            if prefix.length >= 8:
                firsts[prefix.version].add(prefix.network >> (bits - 8))
            else:
                top = prefix.network >> (bits - 8)
                span = 1 << (8 - prefix.length)
                firsts[prefix.version].update(range(top, top + span))
        has = {v: any(p.version == v for p in self.watchlist.specific_prefixes()) for v in (4, 6)}
        # Watched prefixes by the first octet an observed /8-or-longer must have to relate to them.
        self._by_first: dict[int, dict[int, list[tuple[int, int]]]] = {4: {}, 6: {}}
        for prefix in self.watchlist.specific_prefixes():
            top = prefix.network >> (prefix.bits - 8)
            span = 1 << (8 - prefix.length) if prefix.length < 8 else 1
            for first in range(top, top + span):
                self._by_first[prefix.version].setdefault(first, []).append((prefix.network, prefix.length))
        self.first_octets = {v: bytes(1 if o in firsts[v] else 0 for o in range(256)) for v in (4, 6)}
        self.scanners = {v: (scanner(v, frozenset(firsts[v])) if has[v] else None) for v in (4, 6)}
        skip4 = skipper(4, frozenset(firsts[4])) if has[4] else None
        if skip4 is not None:
            self.skip_all4 = skip4.fullmatch
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
        found: list[bytes] = []
        pos = start
        while True:
            m = scanner.match(data, pos, end)
            assert m is not None  # the pattern matches the empty string: match() never fails
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
        except AttributesError:
            return False
        origin = origin_of(path)
        if origin is None:
            return False
        if isinstance(origin, tuple):
            return any(asn in self.asns for asn in origin)
        return origin in self.asns


class KeptRoutes(set[tuple[int, bytes]]):
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

    def difference_update(self, *items: Iterable[object]) -> None:  # noqa: D102
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
