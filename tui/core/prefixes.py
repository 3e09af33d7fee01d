"""IP prefixes parsed once, their wire form, and a trie of watched prefixes.

A :class:`Prefix` is a small immutable value (version, network as int, length). Its *wire key*
is the form BGP puts on the wire: one length octet followed by the significant octets. Route
state is keyed by wire keys so that the MRT reader can store a prefix without ever building a
Python object for it (see ``tui.feeds.mrt``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from typing import Any, Generic, NamedTuple, TypeVar, overload

V = TypeVar("V")
D = TypeVar("D")

__all__ = [
    "Prefix",
    "PrefixError",
    "PrefixTrie",
    "Relation",
    "WireKey",
    "wire_key_text",
    "wire_key_to_prefix",
    "wire_keys_text",
]

WireKey = bytes
"""A prefix as BGP encodes it in NLRI: a length octet, then ``ceil(length / 8)`` octets."""

_BITS = {4: 32, 6: 128}


class PrefixError(ValueError):
    """A string or wire encoding is not a valid IP prefix."""


class Prefix(NamedTuple):
    """An IPv4 or IPv6 prefix with host bits cleared."""

    version: int
    network: int
    length: int

    @classmethod
    def parse(cls, text: str, *, strict: bool = False) -> Prefix:
        """Parse ``"192.0.2.0/24"`` or ``"2001:db8::/32"``; a bare address is a host prefix.

        With ``strict`` a prefix with host bits set is refused, otherwise they are cleared
        (feeds do send such prefixes, and bgpdump clears them too).
        """
        try:
            net = ipaddress.ip_network(text.strip(), strict=strict)
        except ValueError as exc:
            raise PrefixError(f"not an IP prefix: {text!r} ({exc})") from None
        return cls(net.version, int(net.network_address), net.prefixlen)

    @classmethod
    def from_wire(cls, version: int, key: WireKey) -> Prefix:
        """Build a prefix from its wire key; raises :class:`PrefixError` on a bad encoding."""
        return wire_key_to_prefix(version, key)

    @property
    def bits(self) -> int:
        """Address width: 32 or 128."""
        return _BITS[self.version]

    @property
    def wire_key(self) -> WireKey:
        """The NLRI encoding of this prefix (length octet + significant octets)."""
        nbytes = (self.length + 7) // 8
        if nbytes == 0:
            return bytes((self.length,))
        shifted = self.network >> (self.bits - nbytes * 8)
        return bytes((self.length,)) + shifted.to_bytes(nbytes, "big")

    def contains(self, other: Prefix) -> bool:
        """True when ``other`` equals this prefix or lies inside it."""
        if other.version != self.version or other.length < self.length:
            return False
        shift = self.bits - self.length
        return (other.network >> shift) == (self.network >> shift)

    def is_more_specific_of(self, other: Prefix) -> bool:
        """True when this prefix lies strictly inside ``other``."""
        return self.length > other.length and other.contains(self)

    def bit(self, index: int) -> int:
        """The bit at ``index`` (0 = most significant) of the network address."""
        return (self.network >> (self.bits - 1 - index)) & 1

    def __str__(self) -> str:
        addr = ipaddress.ip_address(self.network) if self.version == 4 else ipaddress.IPv6Address(
            self.network
        )
        return f"{addr}/{self.length}"

    def __repr__(self) -> str:
        return f"Prefix({str(self)!r})"

    def sort_key(self) -> tuple[int, int, int]:
        """Order: IPv4 before IPv6, then by address, then shorter first."""
        return (self.version, self.network, self.length)


def wire_key_text(version: int, key: WireKey) -> str:
    """``"192.0.2.0/24"`` straight from a wire key (no Prefix object)."""
    return wire_keys_text(version, [key])[0]


def wire_keys_text(version: int, keys: Iterable[WireKey]) -> list[str]:
    """:func:`wire_key_text` of many keys at once (whole-table listings: hundreds of thousands)."""
    if version == 4:
        padding = _PADDING
        return [
            f"{o[0]}.{o[1]}.{o[2]}.{o[3]}/{key[0]}" for key in keys for o in (key[1:] + padding[5 - len(key)],)
        ]
    return [str(wire_key_to_prefix(version, key)) for key in keys]


_PADDING = tuple(bytes(n) for n in range(5))


def wire_key_to_prefix(version: int, key: WireKey) -> Prefix:
    """Decode a wire key; raises :class:`PrefixError` when its length does not fit."""
    if not key:
        raise PrefixError("empty prefix encoding")
    bits = _BITS.get(version)
    if bits is None:
        raise PrefixError(f"unknown IP version {version}")
    length = key[0]
    nbytes = (length + 7) // 8
    if length > bits or len(key) != 1 + nbytes:
        raise PrefixError(f"bad IPv{version} prefix encoding: length {length}, {len(key) - 1} octets")
    value = int.from_bytes(key[1:], "big") << (bits - nbytes * 8) if nbytes else 0
    # Clear host bits the way bgpdump does: some speakers send trailing garbage.
    mask = ((1 << length) - 1) << (bits - length) if length else 0
    return Prefix(version, value & mask, length)


class Relation(NamedTuple):
    """How an observed prefix relates to one watched prefix."""

    watched: Prefix
    kind: str
    """``"exact"``, ``"more_specific"`` (observed lies inside watched) or ``"less_specific"``."""


class _Node:
    __slots__ = ("children", "prefix", "value")

    def __init__(self) -> None:
        self.children: list[_Node | None] = [None, None]
        self.prefix: Prefix | None = None
        self.value: Any = None


class PrefixTrie(Generic[V]):
    """A binary trie of prefixes (one per IP version) with payloads.

    Answers, for any prefix, which stored prefixes it equals, lies inside (covering stored
    prefixes) or covers (stored more-specifics) — the three relations a watched prefix can have
    with an update.
    """

    def __init__(self, items: Iterable[tuple[Prefix, V]] = ()) -> None:
        self._roots = {4: _Node(), 6: _Node()}
        self._size = 0
        for prefix, value in items:
            self.insert(prefix, value)

    def __len__(self) -> int:
        return self._size

    def __contains__(self, prefix: object) -> bool:
        return isinstance(prefix, Prefix) and self.get(prefix, _MISSING) is not _MISSING

    def insert(self, prefix: Prefix, value: V) -> None:
        """Store ``prefix`` with ``value`` (replacing an earlier value)."""
        node = self._roots[prefix.version]
        for i in range(prefix.length):
            b = prefix.bit(i)
            child = node.children[b]
            if child is None:
                child = node.children[b] = _Node()
            node = child
        if node.prefix is None:
            self._size += 1
        node.prefix = prefix
        node.value = value

    @overload
    def get(self, prefix: Prefix) -> V | None: ...
    @overload
    def get(self, prefix: Prefix, default: D) -> V | D: ...

    def get(self, prefix: Prefix, default: Any = None) -> Any:
        """The value stored for exactly ``prefix`` (``default`` when it is not stored)."""
        node: _Node | None = self._roots[prefix.version]
        for i in range(prefix.length):
            assert node is not None
            node = node.children[prefix.bit(i)]
            if node is None:
                return default
        return node.value if node is not None and node.prefix is not None else default

    def covering(self, prefix: Prefix) -> list[tuple[Prefix, V]]:
        """Stored prefixes equal to or containing ``prefix``, shortest first."""
        found: list[tuple[Prefix, V]] = []
        node: _Node | None = self._roots[prefix.version]
        i = 0
        while node is not None:
            if node.prefix is not None:
                found.append((node.prefix, node.value))
            if i >= prefix.length:
                break
            node = node.children[prefix.bit(i)]
            i += 1
        return found

    def inside(self, prefix: Prefix) -> list[tuple[Prefix, V]]:
        """Stored prefixes equal to or lying inside ``prefix``."""
        node: _Node | None = self._roots[prefix.version]
        for i in range(prefix.length):
            assert node is not None
            node = node.children[prefix.bit(i)]
            if node is None:
                return []
        return list(_walk(node)) if node is not None else []

    def relations(self, prefix: Prefix) -> list[Relation]:
        """Every stored prefix related to ``prefix``, with how it relates.

        ``more_specific`` means the observed ``prefix`` lies inside the stored one;
        ``less_specific`` means it covers the stored one.
        """
        out = []
        for stored, _ in self.covering(prefix):
            out.append(Relation(stored, "exact" if stored.length == prefix.length else "more_specific"))
        for stored, _ in self.inside(prefix):
            if stored.length != prefix.length:
                out.append(Relation(stored, "less_specific"))
        return out

    def is_relevant(self, prefix: Prefix) -> bool:
        """True when ``prefix`` equals, covers or lies inside a stored prefix."""
        node: _Node | None = self._roots[prefix.version]
        for i in range(prefix.length):
            assert node is not None
            if node.prefix is not None:
                return True
            node = node.children[prefix.bit(i)]
            if node is None:
                return False
        return node is not None

    def __iter__(self) -> Iterator[tuple[Prefix, V]]:
        for root in self._roots.values():
            yield from _walk(root)


_MISSING = object()


def _walk(node: _Node) -> Iterator[tuple[Prefix, Any]]:
    stack = [node]
    while stack:
        current = stack.pop()
        if current.prefix is not None:
            yield current.prefix, current.value
        for child in reversed(current.children):
            if child is not None:
                stack.append(child)
