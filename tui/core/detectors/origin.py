"""Origin change and MOAS (multiple origin ASes) of watched prefixes.

- ``moas`` (warning): sessions that are up announce the watched prefix with two or more
  different origins at once. An AS_SET origin is kept as a set and counts as one origin
  (``{64500,64501}``), it is never split or guessed.
- ``origin_change``: the prefix is announced by an origin that is not expected. Expected means
  the watch's ASNs when it lists any (then the finding is critical), otherwise the origins the
  prefix had when it was first seen (then it is a warning: the change may be legitimate).
  It closes when no session announces an unexpected origin any more.
"""

from __future__ import annotations

from typing import Any

from tui.core.aspath import format_path
from tui.core.detectors.base import ALL_PREFIXES, RoutingDetector, peer_text
from tui.core.events import Event, Finding, Severity
from tui.core.prefixes import Prefix

__all__ = ["OriginDetector"]


class OriginDetector(RoutingDetector):
    """Findings ``moas`` and ``origin_change`` on exactly-watched prefixes."""

    name = "origin"

    def __init__(self, watchlist: Any, settings: Any = None) -> None:
        super().__init__(watchlist, settings)
        self.baseline: dict[Prefix, list[str]] = {}
        """Origins of a prefix when first seen (used when its watch lists no ASNs)."""

    def on_event(self, event: Event, rels: Any, changed: Any, out: list[Finding]) -> None:
        if changed is None:
            return
        if changed is ALL_PREFIXES:
            targets = {(e.watch, e.prefix) for e in self.watchlist.entries()}
        else:
            targets = {(w, p) for p in changed for w in self.watchlist.watches_of(p)}
        for watch, prefix in sorted(targets, key=lambda t: (t[0], t[1].sort_key())):
            self._judge(watch, prefix, event.ts, out)

    def _judge(self, watch: str, prefix: Prefix, ts: float, out: list[Finding]) -> None:
        origins = self.table.origins(prefix)
        subject = str(prefix)
        if origins and prefix not in self.baseline:
            self.baseline[prefix] = sorted(origins)
        by_origin = {
            origin: {"sessions": len(peers), "collectors": sorted({p.collector for p in peers}),
                     "example": peer_text(sorted(peers)[0]) + " path " + self._path(prefix, sorted(peers)[0])}
            for origin, peers in sorted(origins.items())
        }
        # MOAS
        if len(origins) >= 2:
            self.emit(out, self.findings.raise_(
                ts, kind="moas", watch=watch, subject=subject, severity=Severity.WARNING,
                summary=f"{prefix} announced with {len(origins)} origins at once: "
                + ", ".join(f"AS{o}" for o in sorted(origins)),
                evidence={"prefix": subject, "origins": by_origin},
            ))
        else:
            self.emit(out, self.findings.close(
                ts, kind="moas", watch=watch, subject=subject,
                summary=f"{prefix} back to a single origin" + (f" AS{next(iter(origins))}" if origins else ""),
                evidence={"origins": by_origin},
            ))
        # origin change
        found = self.watchlist.watches.get(watch)
        declared = [str(a) for a in found.asns] if found is not None and found.asns else []
        expected = set(declared or self.baseline.get(prefix, []))
        unexpected = sorted(o for o in origins if not self._expected(o, expected))
        if unexpected:
            severity = Severity.CRITICAL if declared else Severity.WARNING
            basis = "the watch's ASNs" if declared else "the origin first seen"
            self.emit(out, self.findings.raise_(
                ts, kind="origin_change", watch=watch, subject=subject, severity=severity,
                summary=f"{prefix} originated by {', '.join('AS' + o for o in unexpected)}; expected "
                f"{', '.join('AS' + o for o in sorted(expected))} ({basis})",
                evidence={"prefix": subject, "expected": sorted(expected), "unexpected": unexpected,
                          "origins": by_origin},
            ))
        else:
            self.emit(out, self.findings.close(
                ts, kind="origin_change", watch=watch, subject=subject,
                summary=f"{prefix} originated by expected origins only again", evidence={"origins": by_origin},
            ))

    @staticmethod
    def _expected(origin: str, expected: set[str]) -> bool:
        if origin in expected:
            return True
        if origin.startswith("{"):
            # An AS_SET is expected when every member is: a set hides which one originated.
            members = origin.strip("{}").split(",")
            return all(m in expected for m in members)
        return False

    def _path(self, prefix: Prefix, peer: Any) -> str:
        route = self.table.holders(prefix).get(peer)
        return format_path(route.as_path) if route is not None else ""

    def snapshot_own(self) -> dict[str, Any]:
        return {"baseline": {str(p): o for p, o in self.baseline.items()}}

    def restore_own(self, data: dict[str, Any]) -> None:
        self.baseline = {Prefix.parse(p): list(o) for p, o in data.get("baseline", {}).items()}
