"""Runs of wire keys (BGP's NLRI encoding) split and scanned in C, with regular expressions.

An NLRI block is a run of (length octet, ceil(length/8) octets). A regular expression whose
alternatives are keyed on the length octet splits a block into wire keys in C
(:func:`split_wire_keys`). Each alternative demands that the host bits of the last octet be
zero, so a block with a sloppy prefix (or a bad length) does not tokenize completely: the keys
then do not add up to the block's length, and the exact (slow) path cleans or rejects it.

:func:`scanner` and :func:`skipper` build patterns that step over the prefixes whose first
octet cannot matter (a watch filter), so that only candidates are looked at from Python.
Feeds use them on the wire; the journal uses :func:`split_wire_keys` on its own stored runs.
"""

from __future__ import annotations

import functools
import operator
import re
import struct
from collections.abc import Iterable

from tui.core.prefixes import WireKey

__all__ = [
    "KEY_SIZES",
    "WireKeyError",
    "count_key_sizes",
    "join_wire_keys",
    "key_sizes",
    "scanner",
    "skipper",
    "split_sized_keys",
    "split_wire_keys",
    "tokenizer",
]

_BITS = {4: 32, 6: 128}


class WireKeyError(ValueError):
    """A run of wire keys does not add up: a bad prefix length, or a prefix cut short."""


_COMMON_LENGTHS = {
    4: (24, 22, 23, 21, 20, 16, 19, 18, 17, 32),
    6: (48, 32, 40, 44, 36, 29, 64, 47, 46, 45, 42, 33, 34, 35, 28, 56, 38),
}


def _byte_class(values: Iterable[int]) -> bytes:
    """A character class of ``values``, runs written as ranges (the same set, parsed faster)."""
    runs: list[list[int]] = []
    for v in sorted(set(values)):
        if runs and runs[-1][1] == v - 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    return b"[" + b"".join(b"\\x%02x" % lo if lo == hi else b"\\x%02x-\\x%02x" % (lo, hi) for lo, hi in runs) + b"]"


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


@functools.cache
def tokenizer(version: int) -> re.Pattern[bytes]:
    """The splitting pattern of IP ``version``, compiled when first needed (it takes milliseconds).

    Its ``findall`` is the fast path of :func:`split_wire_keys`; a caller using it directly must
    check that the keys add up to the run's length, as that function does."""
    bits = _BITS[version]
    order = list(_COMMON_LENGTHS[version]) + [n for n in range(bits + 1) if n not in _COMMON_LENGTHS[version]]
    return re.compile(b"|".join(_token_alternative(n) for n in order), re.DOTALL)




def _skip_alternatives(version: int, candidates: frozenset[int]) -> list[bytes]:
    bits = _BITS[version]
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
def skipper(version: int, candidates: frozenset[int]) -> re.Pattern[bytes] | None:
    """A pattern whose ``fullmatch`` accepts exactly the blocks of non-candidate prefixes."""
    skip = _skip_alternatives(version, candidates)
    if not skip:
        return None
    return re.compile(b"(?:" + b"|".join(skip) + b")*+", re.DOTALL)


@functools.lru_cache(maxsize=64)
def scanner(version: int, candidates: frozenset[int]) -> re.Pattern[bytes] | None:
    """A pattern that steps over prefixes whose first octet is not in ``candidates``.

    ``pattern.match(data, pos, end)`` consumes non-candidates and captures the next candidate in
    group 1 (prefixes shorter than /8 are always candidates: their first octet is partial). When
    group 1 did not match and ``m.end() != end``, the block is malformed.
    """
    skip = _skip_alternatives(version, candidates)
    take = [b"\\x00", b"[\\x01-\\x07]."]
    if candidates:
        bits = _BITS[version]
        by_size: dict[int, list[int]] = {}
        for length in range(8, bits + 1):
            by_size.setdefault((length + 7) // 8, []).append(length)
        take += [_byte_class(lengths) + _byte_class(candidates) + b"." * (size - 1) for size, lengths in by_size.items()]
    skip_part = b"(?:" + b"|".join(skip) + b")*+" if skip else b""
    return re.compile(skip_part + b"(" + b"|".join(take) + b")?", re.DOTALL)


def split_wire_keys(data: bytes, version: int, start: int = 0, end: int | None = None, *, addpath: bool = False) -> list[WireKey]:
    """The wire keys of an NLRI block ``data[start:end]``, host bits cleared; raises :class:`WireKeyError`.

    With ``addpath`` each prefix is preceded by a 4-octet path identifier, which is dropped (route
    state is keyed by prefix: the last path of a prefix wins).
    """
    end = len(data) if end is None else end
    if not addpath:
        keys = tokenizer(version).findall(data, start, end)
        if sum(map(len, keys)) == end - start:
            return keys
    bits = _BITS[version]
    keys = []
    pos = start
    while pos < end:
        if addpath:
            pos += 4
            if pos >= end:
                raise WireKeyError(f"ADD-PATH NLRI cut short at octet {pos - start} of {end - start}")
        length = data[pos]
        if length > bits:
            raise WireKeyError(f"IPv{version} prefix length {length} > {bits}")
        nbytes = (length + 7) // 8
        stop = pos + 1 + nbytes
        if stop > end:
            raise WireKeyError(f"prefix /{length} needs {nbytes} octets, {end - pos - 1} left in the NLRI block")
        key = data[pos:stop]
        spare = nbytes * 8 - length
        if spare and key[-1] & ((1 << spare) - 1):
            key = key[:-1] + bytes((key[-1] & (0xFF << spare) & 0xFF,))
        keys.append(key)
        pos = stop
    return keys


def join_wire_keys(keys: Iterable[WireKey]) -> bytes:
    """The run that :func:`split_wire_keys` splits back into ``keys`` (they are self-delimiting)."""
    return b"".join(keys)


def key_sizes(keys: Iterable[WireKey]) -> bytes:
    """The size in octets of each of ``keys``, one octet each: what :func:`split_sized_keys` needs."""
    return bytes(map(len, keys))


# Wire key size (length octet + address octets) of each prefix length; 0 for a length no IP
# version has, so that no stored size matches it.
_SIZE_OF_LENGTH = {version: bytes((1 + (n + 7) // 8) if n <= bits else 0 for n in range(256)) for version, bits in _BITS.items()}
KEY_SIZES = {version: bytes(range(1, 2 + bits // 8)) for version, bits in _BITS.items()}
"""The sizes a wire key of each IP version can have (length octet included): 1..5 and 1..17."""
# The two decimal digits of each size, for a struct format of fixed-width tokens ("04s").
_TENS = bytes(48 + (n // 10) % 10 for n in range(256))
_ONES = bytes(48 + n % 10 for n in range(256))


def count_key_sizes(data: bytes, sizes: bytes, version: int) -> dict[int, int]:
    """How many keys of each size ``sizes`` holds, once checked against ``data`` without a
    pass per key: every size is one an IPv``version`` key can have, and they add up to
    ``len(data)``. Raises :class:`WireKeyError` otherwise (a damaged or forged checkpoint)."""
    if not sizes and data:
        raise WireKeyError(f"{len(data)} octets of keys but no sizes")
    if sizes.translate(None, KEY_SIZES[version]):
        raise WireKeyError(f"a stored key size is not that of any IPv{version} prefix")
    counts = {size: sizes.count(size.to_bytes(1, "big")) for size in KEY_SIZES[version]}
    total = sum(size * count for size, count in counts.items())
    if total != len(data):
        raise WireKeyError(f"key sizes add up to {total} octets, the keys take {len(data)}")
    return counts


def split_sized_keys(data: bytes, sizes: bytes, version: int) -> list[WireKey]:
    """The wire keys of ``data`` given the size of each (``sizes``, from :func:`key_sizes`).

    A journal's checkpoint stores a whole table's keys with their sizes so that a restore can
    split them in one C-level pass: a :mod:`struct` format of one ``NNs`` token per key, about
    three times as fast as the regular expression of :func:`split_wire_keys`, which must find
    where each key ends. Each key's length octet is then checked against its stored size.
    Host bits are not re-checked: the keys were clean when the table held them.

    Raises :class:`WireKeyError` when the sizes do not add up to ``data`` or disagree with
    the keys' own length octets (a damaged or forged checkpoint).
    """
    count_key_sizes(data, sizes, version)
    if not sizes:
        return []
    count = len(sizes)
    # struct counts are decimal digits before the code: two of them fit every size (1..17).
    layout = bytearray(3 * count)
    layout[0::3] = sizes.translate(_TENS)
    layout[1::3] = sizes.translate(_ONES)
    layout[2::3] = b"s" * count
    # A Struct of its own: struct.unpack would keep this one-off, table-sized format in its cache.
    keys = list(struct.Struct(bytes(layout)).unpack(data))
    lengths = bytes(map(operator.itemgetter(0), keys))
    if lengths.translate(_SIZE_OF_LENGTH[version]) != sizes:
        raise WireKeyError(f"a stored IPv{version} key size disagrees with the key's prefix length")
    return keys
