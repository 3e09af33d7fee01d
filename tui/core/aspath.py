"""AS paths: a tuple of ASNs where an AS_SET is a nested, sorted tuple.

``(3356, 174, (64500, 64501))`` is the path ``3356 174 {64500,64501}``. A path that ends in an
AS_SET has an ambiguous origin, which stays a set rather than being guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "ASPath", "Origin", "ASPathError", "format_path", "format_origin", "origin_of", "parse_path", "path_from_json",
    "upstream_of", "path_asns",
]

ASPath = tuple["int | tuple[int, ...]", ...]
Origin = "int | tuple[int, ...] | None"

_MAX_ASN = 0xFFFFFFFF


class ASPathError(ValueError):
    """A textual or JSON AS path could not be read."""


def _asn(value: Any) -> int:
    """An ASN from JSON or text (anything ``int()`` reads); raises :class:`ASPathError`."""
    try:
        asn = int(value)
    except (TypeError, ValueError):
        raise ASPathError(f"not an ASN: {value!r}") from None
    if not 0 <= asn <= _MAX_ASN:
        raise ASPathError(f"ASN out of range: {asn}")
    return asn


def parse_path(text: str) -> ASPath:
    """Parse ``"1 2 {3,4}"`` (bgpdump / BGPStream text form)."""
    items: list[int | tuple[int, ...]] = []
    for token in text.replace("{ ", "{").replace(" }", "}").split():
        if token.startswith("{") or token.startswith("["):
            inner = token.strip("{}[]")
            items.append(tuple(sorted({_asn(x) for x in inner.split(",") if x})))
        elif token.startswith("(") or token.endswith(")"):
            # Confederation segments: their ASNs still belong to the path.
            items.append(_asn(token.strip("()")))
        else:
            items.append(_asn(token))
    return tuple(items)


def path_from_json(value: Iterable[object]) -> ASPath:
    """Convert RIS Live's path (ints, nested lists for AS_SETs) to an :data:`ASPath`."""
    items: list[int | tuple[int, ...]] = []
    for element in value:
        if isinstance(element, list | tuple):
            items.append(tuple(sorted({_asn(x) for x in element})))
        else:
            items.append(_asn(element))
    return tuple(items)


def format_path(path: ASPath) -> str:
    """``(1, 2, (3, 4))`` → ``"1 2 {3,4}"``."""
    return " ".join(
        "{" + ",".join(map(str, item)) + "}" if isinstance(item, tuple) else str(item) for item in path
    )


def origin_of(path: ASPath) -> int | tuple[int, ...] | None:
    """The origin ASN, an AS_SET tuple when the path ends in a set, or None for an empty path."""
    if not path:
        return None
    last = path[-1]
    if isinstance(last, tuple) and len(last) == 1:
        return last[0]
    return last


def format_origin(origin: int | tuple[int, ...] | None) -> str:
    """An origin as text: ``"131279"``, ``"{1,2}"`` or ``"-"``."""
    if origin is None:
        return "-"
    if isinstance(origin, tuple):
        return "{" + ",".join(map(str, origin)) + "}"
    return str(origin)


def upstream_of(path: ASPath) -> int | tuple[int, ...] | None:
    """The AS adjacent to the origin (after removing prepends), or None when there is none."""
    origin = origin_of(path)
    for item in reversed(path):
        if item != origin and not (isinstance(item, tuple) and len(item) == 1 and item[0] == origin):
            return item if not (isinstance(item, tuple) and len(item) == 1) else item[0]
    return None


def path_asns(path: ASPath) -> set[int]:
    """Every ASN that appears anywhere in the path."""
    out: set[int] = set()
    for item in path:
        if isinstance(item, tuple):
            out.update(item)
        else:
            out.add(item)
    return out
