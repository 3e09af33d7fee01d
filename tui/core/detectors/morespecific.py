"""New more-specifics inside watched prefixes, and possible sub-prefix hijacks.

A route to a prefix strictly inside a watched prefix is judged by its origin
(:func:`~tui.core.detectors.base.legit_origin`):

- a foreign origin (not one of the watch's ASNs, or, for a watch without ASNs, not an origin
  seen for the covering watched prefix) opens ``subprefix_hijack`` (critical), one finding per
  (more-specific, origin) — the classic hijack signature, since longest match wins;
- a legitimate origin opens ``more_specific`` (info): new space is being announced, e.g. the
  North Korean /24s inside the watched /22;
- when the origin cannot be judged (no ASNs in the watch, covering prefix never seen) it opens
  ``more_specific`` as a warning saying so.

Each closes, with its duration, when no session that is up holds that route any more.
"""

from __future__ import annotations

from typing import Any

from tui.core.aspath import format_path
from tui.core.detectors.base import (
    OriginMemory,
    RoutingDetector,
    keys_touched,
    legit_origin,
    origin_from_key,
    peer_text,
    sessions_per_collector,
)
from tui.core.events import Event, Finding, RouteAnnounced, Severity
from tui.core.prefixes import Prefix

__all__ = ["MoreSpecificDetector"]


class MoreSpecificDetector(RoutingDetector):
    """Findings ``subprefix_hijack`` and ``more_specific``."""

    name = "more_specific"

    def __init__(self, watchlist: Any, settings: Any = None) -> None:
        super().__init__(watchlist, settings)
        self.inside: dict[tuple[str, Prefix], Prefix] = {}
        """(watch, more-specific) → the watched prefix it lies inside."""
        self.origins = OriginMemory()

    def on_event(self, event: Event, rels: Any, changed: Any, out: list[Finding]) -> None:
        if isinstance(event, RouteAnnounced):
            self.origins.note(event, rels)
            for watch, watched, relation in rels:
                if relation == "more_specific" and watched is not None:
                    current = self.inside.get((watch, event.prefix))
                    # The most specific watched prefix is the one that matters for the verdict.
                    if current is None or watched.length > current.length:
                        self.inside[(watch, event.prefix)] = watched
        for key in keys_touched(self.inside, changed):
            self._judge(key, event.ts, out)

    def _judge(self, key: tuple[str, Prefix], ts: float, out: list[Finding]) -> None:
        watch, prefix = key
        watched = self.inside[key]
        known = self.origins.of(watched)
        origins = self.table.origins(prefix)
        present_hijacks: set[str] = set()
        welcome: dict[str, list[Any]] = {}
        unsure: dict[str, list[Any]] = {}
        for origin_text_key, peers in sorted(origins.items()):
            origin = origin_from_key(origin_text_key)
            verdict = legit_origin(self.watchlist, watch, origin, known)
            if verdict is False:
                present_hijacks.add(origin_text_key)
                subject = f"{prefix} AS{origin_text_key}"
                evidence = self._evidence(prefix, watched, origin_text_key, peers, known)
                self.emit(out, self.findings.raise_(
                    ts, kind="subprefix_hijack", watch=watch, subject=subject, severity=Severity.CRITICAL,
                    summary=f"possible sub-prefix hijack: {prefix} inside watched {watched} originated by "
                    f"AS{origin_text_key}, expected {self._expected_text(watch, known)}",
                    evidence=evidence,
                ))
            elif verdict is True:
                welcome[origin_text_key] = peers
            else:
                unsure[origin_text_key] = peers
        out.extend(self.findings.close_gone_origins(
            ts, kind="subprefix_hijack", watch=watch, prefix=prefix, present=present_hijacks,
            summary=lambda origin: f"{prefix} no longer announced by AS{origin}",
        ))
        if welcome or unsure:
            severity = Severity.WARNING if unsure and not welcome else Severity.INFO
            origins_text = ", ".join("AS" + o for o in sorted({**welcome, **unsure}))
            if severity == Severity.WARNING:
                summary = (
                    f"new more-specific {prefix} inside watched {watched} originated by {origins_text}; "
                    "origin cannot be judged (the watch lists no ASNs and the covering prefix was not seen)"
                )
            else:
                summary = f"new more-specific {prefix} inside watched {watched} originated by {origins_text}"
            peers_all = [p for group in (welcome, unsure) for ps in group.values() for p in ps]
            self.emit(out, self.findings.raise_(
                ts, kind="more_specific", watch=watch, subject=str(prefix), severity=severity, summary=summary,
                evidence={
                    "prefix": str(prefix), "watched": str(watched), "origins": sorted({**welcome, **unsure}),
                    "sessions": len(peers_all), "collectors": sessions_per_collector(peers_all),
                },
            ))
        else:
            self.emit(out, self.findings.close(
                ts, kind="more_specific", watch=watch, subject=str(prefix),
                summary=f"more-specific {prefix} no longer announced by its legitimate origin",
            ))

    def _expected_text(self, watch: str, known: set[str]) -> str:
        found = self.watchlist.watches.get(watch)
        if found is not None and found.asns:
            return ", ".join(f"AS{a}" for a in found.asns)
        return ", ".join(f"AS{o}" for o in sorted(known)) or "unknown"

    def _evidence(self, prefix: Prefix, watched: Prefix, origin: str, peers: list[Any], known: set[str]) -> dict[str, Any]:
        holders = self.table.holders(prefix)
        examples = [f"{peer_text(p)} path {format_path(holders[p].as_path)}" for p in sorted(peers)[:5] if p in holders]
        return {
            "prefix": str(prefix),
            "watched": str(watched),
            "origin": origin,
            "covering_origins": sorted(known),
            "sessions": len(peers),
            "collectors": sessions_per_collector(peers),
            "paths": examples,
        }

    def snapshot_own(self) -> dict[str, Any]:
        return {
            "inside": [[w, str(p), str(q)] for (w, p), q in self.inside.items()],
            "origins": self.origins.snapshot(),
        }

    def restore_own(self, data: dict[str, Any]) -> None:
        self.inside = {(w, Prefix.parse(p)): Prefix.parse(q) for w, p, q in data.get("inside", ())}
        self.origins.restore(data.get("origins", {}))
