"""NLRI blocks as MRT carries them: split into wire keys, with or without ADD-PATH identifiers."""

from __future__ import annotations

from tui.core.prefixes import WireKey
from tui.core.wirekeys import WireKeyError, split_wire_keys
from tui.feeds.mrt._wire import MrtError

__all__ = ["split_nlri"]


def split_nlri(data: bytes, start: int, end: int, version: int, addpath: bool = False) -> list[WireKey]:
    """The wire keys of an NLRI block ``data[start:end]``, host bits cleared; raises :class:`MrtError`.

    With ``addpath`` each prefix is preceded by a 4-octet path identifier, which is dropped (route
    state is keyed by prefix: the last path of a prefix wins).
    """
    try:
        return split_wire_keys(data, version, start, end, addpath=addpath)
    except WireKeyError as exc:
        raise MrtError(str(exc)) from None
