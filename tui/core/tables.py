"""Route tables restored from a checkpoint, used in place until something needs them whole.

Rebuilding a whole table from a journal checkpoint (a dict of half a million wire keys, their
route objects and attribute objects) costs most of a seek, and right after a seek the views
need only a handful of lookups (the watched prefixes' visibility and routes) and the tables'
sizes. So a restore keeps each session's stored columns as they are (:class:`PackedTable`) and
answers those from the columns: a lookup is a ``bytes.find`` over the run of keys, checked to
start on a key boundary; a size is the stored count. Rows applied after the checkpoint go into
an overlay (:class:`RestoredTable`), so a seek that lands between checkpoints rebuilds nothing
either. Anything that walks a table (a snapshot of every route, the drill-down's
more-specifics, a checkpoint of its own) rebuilds it once, and so does a table that is looked
up more than :data:`PROBES_BEFORE_REBUILD` times (a replay that plays on through announcements
and withdrawals): from then on it is a plain dict.

Meanings do not bend: a size that a comparison needs exactly (the full-feed cut) and that the
overlay leaves uncertain (a withdrawal of a key the base may not hold) is computed exactly, by
rebuilding (:meth:`RestoredTable.size_bounds` says when a caller can do without).
"""

from __future__ import annotations

import itertools
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, Sequence, ValuesView
from typing import Any

from tui.core.attributes import PathAttributes, WireRoute
from tui.core.prefixes import WireKey
from tui.core.wirekeys import count_key_sizes, split_sized_keys

__all__ = ["PROBES_BEFORE_REBUILD", "PackedTable", "RestoredRoutes", "RestoredTable", "Table", "expand_runs"]

PROBES_BEFORE_REBUILD = 48
"""Lookups in a table's stored columns (about a millisecond each in a whole table) before it is
rebuilt as a dict (a few hundred milliseconds for a whole table, then nanoseconds a lookup)."""

_GONE: Any = object()
"""In an overlay: the key was withdrawn after the checkpoint (whether or not the base held it)."""


class RestoredRoutes:
    """The distinct routes of one checkpoint, built when first asked for; shared by its tables.

    Route objects are shared by every prefix that came in one UPDATE (and by the kept copies
    of a restored table), so a route asked for twice is the same object, and :meth:`all`
    returns the ones already handed out rather than twins.
    """

    def __init__(
        self,
        blobs: bytes,
        lengths: array[int],
        asn4: bytes,
        route_attributes: array[int],
        since: array[float],
        via_mp: bytes,
        decoded: list[Any],
    ) -> None:
        if not len(route_attributes) == len(since) == len(via_mp):
            raise ValueError("the route columns differ in length")
        if len(lengths) != len(asn4) or sum(lengths) != len(blobs):
            raise ValueError("the attribute columns do not fit together")
        if route_attributes and max(route_attributes) >= len(lengths):
            raise ValueError("a route names an attribute set that is not stored")
        self._blobs = blobs
        self._lengths = lengths
        self._asn4 = asn4
        self._route_attributes = route_attributes
        self._since = since
        self._via_mp = via_mp
        self._decoded = decoded
        self._wire_count = len(route_attributes)
        self._ends: list[int] | None = None
        self._attributes: dict[int, PathAttributes] = {}
        self._routes: dict[int, Any] = {}
        self._all: list[Any] | None = None

    def __len__(self) -> int:
        return self._wire_count + len(self._decoded)

    def route(self, index: int) -> Any:
        """Route ``index`` (wire routes first, then decoded ones, as :meth:`RouteState.to_snapshot` numbers them)."""
        if self._all is not None:
            return self._all[index]
        if index >= self._wire_count:
            return self._decoded[index - self._wire_count]
        route = self._routes.get(index)
        if route is None:
            attributes = self._attribute(self._route_attributes[index])
            route = self._routes[index] = WireRoute(attributes, self._since[index], bool(self._via_mp[index]))
        return route

    def _attribute(self, index: int) -> PathAttributes:
        attributes = self._attributes.get(index)
        if attributes is None:
            if self._ends is None:
                self._ends = list(itertools.accumulate(self._lengths))
            end = self._ends[index]
            start = end - self._lengths[index]
            attributes = self._attributes[index] = PathAttributes(self._blobs[start:end], bool(self._asn4[index]))
        return attributes

    def all(self) -> list[Any]:
        """Every route, in index order (built once; the ones handed out before are kept)."""
        if self._all is not None:
            return self._all
        blobs = self._blobs
        ends = list(itertools.accumulate(self._lengths))
        starts = [0, *ends[:-1]]
        attributes = list(map(PathAttributes, map(blobs.__getitem__, map(slice, starts, ends)), map(bool, self._asn4)))
        for index, built in self._attributes.items():
            attributes[index] = built
        # tuple.__new__ straight: WireRoute is a NamedTuple, and its generated __new__ is Python.
        routes: list[Any] = list(map(tuple.__new__, itertools.repeat(WireRoute), zip(
            map(attributes.__getitem__, self._route_attributes), self._since, map(bool, self._via_mp), strict=True,
        )))
        for index, route in self._routes.items():
            routes[index] = route
        routes += self._decoded
        self._all = routes
        self._attributes = {}
        self._routes = {}
        return routes


class PackedTable:
    """One session's table of one IP version, as its checkpoint stored it; read in place.

    ``keys`` is the run of wire keys, ``sizes`` the size of each (one octet a key), and the
    route of each key is given as runs: ``route_runs[r]`` is the route of the next
    ``run_lengths[r]`` keys. Never changed once built (kept checkpoints share it).
    """

    __slots__ = ("_keys", "_sizes", "_version", "_route_runs", "_run_lengths", "_routes",
                 "_offsets", "_run_ends", "_dict", "_rare_sizes")

    def __init__(
        self,
        keys: bytes,
        sizes: bytes,
        version: int,
        route_runs: array[int],
        run_lengths: array[int],
        routes: RestoredRoutes,
    ) -> None:
        # What can be checked without a pass per key is checked now, so that a damaged
        # checkpoint is refused when it is restored rather than when a view first walks it.
        counts = count_key_sizes(keys, sizes, version)
        if len(route_runs) != len(run_lengths):
            raise ValueError("the route runs and their lengths differ in number")
        if sum(run_lengths) != len(sizes):
            raise ValueError(f"{len(sizes)} prefixes but {sum(run_lengths)} routes stored")
        if route_runs and max(route_runs) >= len(routes):
            raise ValueError("a prefix's route is not stored")
        self._keys = keys
        self._sizes = sizes
        self._version = version
        self._route_runs = route_runs
        self._run_lengths = run_lengths
        self._routes = routes
        self._offsets: array[int] | None = None
        self._run_ends: array[int] | None = None
        self._dict: dict[WireKey, Any] | None = None
        # Sizes few keys have (a /0, the /8s): their keys are found through the sizes column,
        # because a one- or two-octet needle matches inside other keys all the time.
        self._rare_sizes = frozenset(size for size, count in counts.items() if count * 16 < len(sizes))

    def __len__(self) -> int:
        return len(self._sizes)

    def get(self, key: WireKey) -> Any:
        """The route stored for ``key``, or None (a search of the columns: no rebuild)."""
        if self._dict is not None:
            return self._dict.get(key)
        index = self._index_of(key)
        return None if index < 0 else self._route_at(index)

    def _route_at(self, index: int) -> Any:
        if self._run_ends is None:
            self._run_ends = array("I", itertools.accumulate(self._run_lengths))
        return self._routes.route(self._route_runs[bisect_right(self._run_ends, index)])

    def _key_offsets(self) -> array[int]:
        if self._offsets is None:
            self._offsets = array("I", itertools.accumulate(self._sizes, initial=0))
        return self._offsets

    def items_starting(self, lead: bytes, length: int) -> list[tuple[WireKey, Any]]:
        """The keys of prefix length ``length`` or more whose address starts with the octets
        ``lead`` (at least one), with their routes: the candidates to lie inside a prefix of
        ``length`` whose whole octets are ``lead``. A search of the columns, no rebuild."""
        offsets, keys, sizes = self._key_offsets(), self._keys, self._sizes
        out = []
        at = keys.find(lead, 1)
        while at >= 0:
            start = at - 1
            index = bisect_left(offsets, start)
            if index < len(sizes) and offsets[index] == start and keys[start] >= length and sizes[index] > len(lead):
                out.append((keys[start:start + sizes[index]], self._route_at(index)))
            at = keys.find(lead, at + 1)
        return out

    def _index_of(self, key: WireKey) -> int:
        size = len(key)
        if not size or size not in self._sizes:
            return -1
        offsets, keys, sizes = self._key_offsets(), self._keys, self._sizes
        if size in self._rare_sizes:
            marker = size.to_bytes(1, "big")
            index = sizes.find(marker)
            while index >= 0:
                if keys[offsets[index]:offsets[index] + size] == key:
                    return index
                index = sizes.find(marker, index + 1)
            return -1
        at = keys.find(key)
        while at >= 0:
            index = bisect_left(offsets, at)
            if index < len(sizes) and offsets[index] == at and sizes[index] == size:
                return index
            at = keys.find(key, at + 1)
        return -1

    def as_dict(self) -> dict[WireKey, Any]:
        """The table as a dict, in stored order (built once; callers copy it, never change it)."""
        if self._dict is None:
            keys = split_sized_keys(self._keys, self._sizes, self._version)
            held = expand_runs(self._routes.all(), self._route_runs, self._run_lengths)
            self._dict = dict(zip(keys, held, strict=True))
        return self._dict


class RestoredTable:
    """A restored table and the changes made to it since: a dict's interface, rebuilt lazily.

    Until it is rebuilt, reads look in the overlay of changes first, then in the base's
    columns; writes go to the overlay. Once rebuilt, every call goes to the plain dict.
    """

    __slots__ = ("_base", "_overlay", "_moved", "_gone", "_dict", "_probes")

    def __init__(
        self, base: PackedTable, overlay: dict[WireKey, Any] | None = None, moved: set[WireKey] | None = None, probes: int = 0
    ) -> None:
        self._base: PackedTable | None = base
        self._overlay: dict[WireKey, Any] = overlay if overlay is not None else {}
        # Keys withdrawn and then announced again: a dict puts them last, and so does the
        # rebuild, so that a restored table walks in the order the live one did.
        self._moved: set[WireKey] = moved if moved is not None else set()
        self._gone = sum(1 for value in self._overlay.values() if value is _GONE)
        """How many withdrawals the overlay holds (kept as it changes: sizes are asked each frame)."""
        self._dict: dict[WireKey, Any] | None = None
        self._probes = probes

    # -- reading without a rebuild --------------------------------------------------------------

    def get(self, key: WireKey, default: Any = None) -> Any:
        if self._dict is not None:
            return self._dict.get(key, default)
        found = self._overlay.get(key)
        if found is None:
            found = self._probe(key)
        return default if found is None or found is _GONE else found

    def __contains__(self, key: object) -> bool:
        return self.get(key) is not None  # type: ignore[arg-type]

    def __getitem__(self, key: WireKey) -> Any:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def _probe(self, key: WireKey) -> Any:
        assert self._base is not None
        self._probes += 1
        if self._probes > PROBES_BEFORE_REBUILD:
            return self._rebuilt().get(key)
        return self._base.get(key)

    def size_bounds(self) -> tuple[int, int]:
        """(at least, at most) routes held: exact when nothing was withdrawn or replaced since.

        The overlay's announcements may replace routes the base holds, and its withdrawals may
        name keys it never held; telling which takes a rebuild, which a caller avoids when the
        bounds already decide its question.
        """
        if self._dict is not None:
            return len(self._dict), len(self._dict)
        assert self._base is not None
        size = len(self._base)
        return max(0, size - self._gone), size + len(self._overlay) - self._gone

    def __len__(self) -> int:
        low, high = self.size_bounds()
        return low if low == high else len(self._rebuilt())

    def __bool__(self) -> bool:
        low, high = self.size_bounds()
        if low > 0 or high == 0:
            return low > 0
        return bool(self._rebuilt())

    # -- writing without a rebuild --------------------------------------------------------------

    def __setitem__(self, key: WireKey, route: Any) -> None:
        self.update({key: route})

    def update(self, routes: Mapping[WireKey, Any]) -> None:
        if self._dict is not None:
            self._dict.update(routes)
            return
        overlay = self._overlay
        if self._gone:
            for key in routes:
                if overlay.get(key) is _GONE:
                    del overlay[key]
                    self._moved.add(key)
                    self._gone -= 1
        overlay.update(routes)

    def discard_many(self, keys: Iterable[WireKey]) -> None:
        """Remove ``keys`` where held, without saying which were (no lookups)."""
        if self._dict is not None:
            pop = self._dict.pop
            for key in keys:
                pop(key, None)
        else:
            overlay = self._overlay
            withdrawn = dict.fromkeys(keys, _GONE)
            self._gone += sum(1 for key in withdrawn if overlay.get(key) is not _GONE)
            overlay.update(withdrawn)

    def pop(self, key: WireKey, default: Any = None) -> Any:
        if self._dict is not None:
            return self._dict.pop(key, default)
        held = self.get(key)
        if self._dict is not None:  # that lookup was the one that rebuilt it
            return self._dict.pop(key, default)
        if self._overlay.get(key) is not _GONE:
            self._gone += 1
        self._overlay[key] = _GONE
        return default if held is None else held

    def items_starting(self, lead: bytes, length: int) -> list[tuple[WireKey, Any]] | None:
        """:meth:`PackedTable.items_starting` with the changes since applied (what it adds is
        a superset: the overlay's routes are all given); None once rebuilt (walk it instead)."""
        if self._dict is not None:
            return None
        assert self._base is not None
        overlay = self._overlay
        found = [(key, route) for key, route in self._base.items_starting(lead, length) if key not in overlay]
        found += [(key, route) for key, route in overlay.items() if route is not _GONE]
        return found

    # -- walking: rebuilds ----------------------------------------------------------------------

    def _rebuilt(self) -> dict[WireKey, Any]:
        if self._dict is None:
            assert self._base is not None
            table = self._base.as_dict().copy()
            moved = self._moved
            for key, value in self._overlay.items():
                if value is _GONE:
                    table.pop(key, None)
                else:
                    if key in moved:
                        table.pop(key, None)
                    table[key] = value
            self._dict = table
            self._base = None
            self._overlay = {}
            self._moved = set()
        return self._dict

    def __iter__(self) -> Iterator[WireKey]:
        return iter(self._rebuilt())

    def keys(self) -> KeysView[WireKey]:
        return self._rebuilt().keys()

    def values(self) -> ValuesView[Any]:
        return self._rebuilt().values()

    def items(self) -> ItemsView[WireKey, Any]:
        return self._rebuilt().items()

    def copy(self) -> RestoredTable | dict[WireKey, Any]:
        """An independent copy: the base is shared (it never changes), the overlay copied."""
        if self._dict is not None:
            return self._dict.copy()
        assert self._base is not None
        return RestoredTable(self._base, self._overlay.copy(), self._moved.copy(), self._probes)

    @property
    def rebuilt(self) -> bool:
        """Whether the table is a plain dict by now."""
        return self._dict is not None


def expand_runs(routes: Sequence[Any], route_runs: Iterable[int], run_lengths: Iterable[int]) -> Iterator[Any]:
    """The route of each key of a stored table: ``routes[route_runs[r]]``, ``run_lengths[r]``
    times over, for each run ``r`` (how a checkpoint stores them; C-level passes only)."""
    return itertools.chain.from_iterable(map(itertools.repeat, map(routes.__getitem__, route_runs), run_lengths))


Table = dict[WireKey, Any] | RestoredTable
"""What a session's table of one IP version is: a dict, or a restored table not yet rebuilt."""


def size_bounds(table: Table) -> tuple[int, int]:
    """(at least, at most) routes in ``table``; equal unless it is an overlaid restored table."""
    if type(table) is dict:
        return len(table), len(table)
    return table.size_bounds()  # type: ignore[union-attr]


def discard_many(table: Table, keys: Iterable[WireKey]) -> None:
    """Remove ``keys`` from ``table`` where held (a bulk withdrawal: nothing is looked up)."""
    if type(table) is dict:
        pop = table.pop
        for key in keys:
            pop(key, None)
    else:
        table.discard_many(keys)  # type: ignore[union-attr]

