"""What the operator watches: named watches of prefixes, ASNs, countries and zones.

ASNs and countries are expanded into prefixes by a feed (RIPEstat); the expansion is added
with :meth:`Watchlist.expand` and remembered with its reason, so the console can say where a
row came from.

A watched ``0.0.0.0/0`` or ``::/0`` means *the whole table* of that IP version
(:attr:`Watchlist.whole_table`): every route is kept, so that anything can be looked up and
the full-feed sessions can be told by their table sizes. Such a prefix is not a watched prefix
like the others: it is kept out of the trie, so "does this update concern a watch?" stays a
question about the specific watches, and nothing is reported about a prefix merely for lying
inside the whole table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from tui.core.aspath import ASPath, origin_of
from tui.core.prefixes import Prefix, PrefixTrie, Relation

__all__ = ["Thresholds", "Watch", "Watchlist", "WatchedPrefix", "WatchRelation", "NORTH_KOREA"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Per-watch limits; the defaults suit a small set of prefixes seen by RIS."""

    visibility_warn: float = 0.8
    visibility_critical: float = 0.5
    min_duration: float = 60.0
    """Seconds a visibility drop must last before it is reported."""
    hysteresis: float = 0.05
    """A drop closes only once visibility is this much above the threshold it crossed."""
    flap_count: int = 3
    """Withdraw/announce cycles within ``flap_window`` that count as flapping."""
    flap_window: float = 600.0
    dns_latency_warn: float = 0.5
    """Seconds of round-trip above which a DNS server is ``slow``."""


@dataclass(frozen=True, slots=True)
class Watch:
    """One named thing to watch."""

    name: str
    prefixes: tuple[Prefix, ...] = ()
    asns: tuple[int, ...] = ()
    countries: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)


@dataclass(frozen=True, slots=True)
class WatchedPrefix:
    """A prefix and the watch it belongs to, with why it is watched."""

    prefix: Prefix
    watch: str
    reason: str
    """``"configured"``, ``"AS131279"`` (announced by), ``"country KP"`` ..."""


class WatchRelation(NamedTuple):
    """How one route concerns one watch."""

    watch: str
    watched: Prefix | None
    """The watched prefix it relates to; None when it concerns the watch by its origin only."""
    relation: str
    """``exact``, ``more_specific`` (inside ``watched``) or ``origin`` (a watched ASN originates it)."""


class Watchlist:
    """The set of watches, and fast answers to "does this update matter?"."""

    def __init__(self, watches: Iterable[Watch]) -> None:
        self.watches: dict[str, Watch] = {}
        self._trie: PrefixTrie[list[WatchedPrefix]] = PrefixTrie()
        self._entries: dict[Prefix, list[WatchedPrefix]] = {}
        self._asns: dict[int, list[str]] = {}
        self._whole_table: set[int] = set()
        self._added: list[WatchedPrefix] = []
        """What expand() added, in order."""
        for watch in watches:
            self.add_watch(watch)

    def add_watch(self, watch: Watch) -> None:
        """Add a watch and its configured prefixes and ASNs."""
        self.watches[watch.name] = watch
        for prefix in watch.prefixes:
            self._add(WatchedPrefix(prefix, watch.name, "configured"))
        for asn in watch.asns:
            self._asns.setdefault(asn, []).append(watch.name)

    def expand(self, watch: str, prefixes: Iterable[Prefix], reason: str) -> list[Prefix]:
        """Add prefixes found for an ASN or country of ``watch``; returns the ones that are new."""
        added = []
        for prefix in prefixes:
            if any(e.watch == watch for e in self._entries.get(prefix, ())):
                continue
            entry = WatchedPrefix(prefix, watch, reason)
            self._add(entry)
            self._added.append(entry)
            added.append(prefix)
        return added

    def expansions(self) -> list[tuple[str, str, list[Prefix]]]:
        """What :meth:`expand` added, as (watch, reason, prefixes) in the order it came."""
        out: dict[tuple[str, str], list[Prefix]] = {}
        for entry in self._added:
            out.setdefault((entry.watch, entry.reason), []).append(entry.prefix)
        return [(watch, reason, prefixes) for (watch, reason), prefixes in out.items()]

    def clear_expansions(self) -> None:
        """Back to the configured watches alone (before replaying expansions from elsewhere)."""
        watches = list(self.watches.values())
        self.__init__(watches)  # type: ignore[misc]

    def copy(self) -> Watchlist:
        """An independent watchlist with the same watches and expansions."""
        other = Watchlist(self.watches.values())
        for watch, reason, prefixes in self.expansions():
            other.expand(watch, prefixes, reason)
        return other

    def _add(self, entry: WatchedPrefix) -> None:
        entries = self._entries.setdefault(entry.prefix, [])
        if entry.prefix.length == 0:
            self._whole_table.add(entry.prefix.version)
        elif not entries:
            self._trie.insert(entry.prefix, entries)
        entries.append(entry)

    # -- questions ------------------------------------------------------------------------------

    def prefixes(self) -> list[Prefix]:
        """Every watched prefix, sorted (whole-table ones included)."""
        return sorted(self._entries, key=Prefix.sort_key)

    def specific_prefixes(self) -> list[Prefix]:
        """Every watched prefix but the whole-table ones (``0.0.0.0/0``, ``::/0``), sorted."""
        return [p for p in self.prefixes() if p.length]

    @property
    def whole_table(self) -> frozenset[int]:
        """The IP versions whose whole table is watched (a watch lists ``0.0.0.0/0`` or ``::/0``)."""
        return frozenset(self._whole_table)

    def entries(self) -> list[WatchedPrefix]:
        """Every (prefix, watch) pair, sorted by watch then prefix."""
        out = [e for entries in self._entries.values() for e in entries]
        return sorted(out, key=lambda e: (e.watch, e.prefix.sort_key()))

    def watches_of(self, prefix: Prefix) -> list[str]:
        """Names of the watches that list exactly ``prefix``."""
        return [e.watch for e in self._entries.get(prefix, ())]

    def relations(self, prefix: Prefix) -> list[Relation]:
        """How an observed prefix relates to the watched ones."""
        return self._trie.relations(prefix)

    def concerns(
        self, prefix: Prefix, origin: int | tuple[int, ...] | None = None, relations: Sequence[Relation] | None = None
    ) -> list[WatchRelation]:
        """Which watches a route to ``prefix`` (originated by ``origin``) concerns, and how.

        Covering less-specifics are left out: they matter for reachability, but what is judged is
        the watched prefixes and what lies inside them. ``relations`` may be passed when the
        caller already has :meth:`relations` of ``prefix``.
        """
        out: list[WatchRelation] = []
        seen: set[str] = set()
        for rel in self.relations(prefix) if relations is None else relations:
            if rel.kind == "less_specific":
                continue
            for entry in self._entries.get(rel.watched, ()):
                out.append(WatchRelation(entry.watch, rel.watched, rel.kind))
                seen.add(entry.watch)
        if origin is not None and self._asns:
            for watch in self.watches_for_origin(origin):
                if watch not in seen:
                    out.append(WatchRelation(watch, None, "origin"))
        return out

    def is_relevant(self, prefix: Prefix, as_path: ASPath | None = None) -> bool:
        """Whether an update for ``prefix`` (with ``as_path``) concerns any watch."""
        if self._trie.is_relevant(prefix):
            return True
        if as_path is not None and self._asns:
            origin = origin_of(as_path)
            if isinstance(origin, tuple):
                return any(asn in self._asns for asn in origin)
            return origin in self._asns
        return False

    def watched_asns(self) -> dict[int, list[str]]:
        """ASN → names of watches that list it."""
        return {asn: list(names) for asn, names in self._asns.items()}

    def watches_for_origin(self, origin: int | tuple[int, ...] | None) -> list[str]:
        """Watches that list ``origin`` (any member, for an AS_SET)."""
        if origin is None:
            return []
        members = origin if isinstance(origin, tuple) else (origin,)
        return sorted({name for asn in members for name in self._asns.get(asn, ())})

    def zones(self) -> dict[str, list[str]]:
        """Zone → names of watches that list it."""
        out: dict[str, list[str]] = {}
        for watch in self.watches.values():
            for zone in watch.zones:
                out.setdefault(zone, []).append(watch.name)
        return out

    def thresholds(self, watch: str) -> Thresholds:
        """The thresholds of ``watch`` (defaults when unknown)."""
        found = self.watches.get(watch)
        return found.thresholds if found else Thresholds()

    @property
    def trie(self) -> PrefixTrie[list[WatchedPrefix]]:
        """The specific watched prefixes as a trie (values are lists of :class:`WatchedPrefix`)."""
        return self._trie


NORTH_KOREA = Watch(
    name="North Korea",
    prefixes=tuple(Prefix.parse(p) for p in ("175.45.176.0/22", "210.52.109.0/24", "77.94.35.0/24")),
    asns=(131279,),
    countries=("KP",),
    zones=("kp.",),
)
"""The built-in example watch: the December 2014 case DESIGN.md starts from."""
