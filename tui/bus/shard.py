"""Several collectors sharing one watchlist: ``--shard K/N`` (pure, no I/O).

Each watched item (prefix, ASN, country, zone) belongs to exactly one of N shards, picked by a
stable hash of its canonical text, so every collector started with the same watchlist and the
same N agrees on the split without talking to the others. Collector K watches only its shard's
items; consoles consume every shard and see the union.

Items are hashed one by one, not whole watches: a watch with many prefixes is spread over all
collectors. Prefixes that RIPEstat later finds for an ASN or country go to the collector that
owns that ASN or country. Events every collector sees (peer sessions, full-feed declarations,
its own feed health) are published by each of them under its own instance name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from tui.core.prefixes import Prefix
from tui.core.watchlist import Watch

__all__ = [
    "Shard",
    "ShardError",
    "parse_shard",
    "shard_of",
    "shard_watches",
    "shard_config",
    "prefix_key",
    "zone_key",
    "asn_key",
    "country_key",
    "ALL",
]


class ShardError(ValueError):
    """A ``--shard`` value is not ``K/N`` with ``0 <= K < N``."""


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count`` (``0/1`` is everything)."""

    index: int = 0
    count: int = 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, key: str) -> bool:
        """Whether the item with canonical text ``key`` belongs to this shard."""
        return self.count == 1 or shard_of(key, self.count) == self.index


ALL = Shard(0, 1)
"""The whole watchlist: what a collector without ``--shard`` watches."""


def parse_shard(text: str) -> Shard:
    """Parse ``"K/N"``; raises :class:`ShardError` with what was wrong."""
    index_text, sep, count_text = text.strip().partition("/")
    try:
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise ShardError(f"bad shard {text!r}: expected K/N, for example 0/2 and 1/2") from None
    if not sep or count < 1 or not 0 <= index < count:
        raise ShardError(f"bad shard {text!r}: need 0 <= K < N, for example 0/2 and 1/2")
    return Shard(index, count)


def shard_of(key: str, count: int) -> int:
    """The shard (``0 .. count-1``) of the item with canonical text ``key``.

    A cryptographic digest, not :func:`hash`: Python salts string hashes per process, and every
    collector must compute the same answer.
    """
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def prefix_key(prefix: Prefix) -> str:
    """Canonical text of a watched prefix (``"175.45.176.0/22"``)."""
    return str(prefix)


def zone_key(zone: str) -> str:
    """Canonical text of a watched zone: lower case, one trailing dot (``"kp."``)."""
    return zone.strip().lower().rstrip(".") + "."


def asn_key(asn: int) -> str:
    """Canonical text of a watched ASN (``"AS131279"``)."""
    return f"AS{asn}"


def country_key(country: str) -> str:
    """Canonical text of a watched country (``"country KP"``)."""
    return f"country {country.strip().upper()}"


def shard_watches(watches: Iterable[Watch], shard: Shard) -> tuple[Watch, ...]:
    """The part of ``watches`` that ``shard`` owns; watches left with nothing are dropped."""
    if shard.count == 1:
        return tuple(watches)
    out = []
    for watch in watches:
        part = replace(
            watch,
            prefixes=tuple(p for p in watch.prefixes if shard.owns(prefix_key(p))),
            asns=tuple(a for a in watch.asns if shard.owns(asn_key(a))),
            countries=tuple(c for c in watch.countries if shard.owns(country_key(c))),
            zones=tuple(z for z in watch.zones if shard.owns(zone_key(z))),
        )
        if part.prefixes or part.asns or part.countries or part.zones:
            out.append(part)
    return tuple(out)


def shard_config(config: Any, shard: Shard) -> Any:
    """A copy of a :class:`~tui.config.Config` narrowed to ``shard``: its watches and its zones.

    Zones configured in ``[[zone]]`` tables but not owned by the shard are dropped too, so the
    collector neither probes nor reports them (another collector does).
    """
    if shard.count == 1:
        return config
    return replace(
        config,
        watches=shard_watches(config.watches, shard),
        zones=tuple(z for z in config.zones if shard.owns(zone_key(z.name))),
    )
