"""Collector names from archive paths, and the short names events carry for a file."""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path

__all__ = ["collector_from_path", "file_stem", "short_path"]

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


def short_path(path: str) -> str:
    """The file name with its folder (``bgpdump/updates.et-header.2015.gz``), without the rest."""
    parts = Path(path).parts
    return "/".join(parts[-2:]) if len(parts) >= 2 and parts[-2] not in ("/", "") else path


def file_stem(name: str) -> str:
    stem = Path(name).name
    for suffix in (".gz", ".bz2", ".xz", ".mrt"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    return stem or "mrt"
