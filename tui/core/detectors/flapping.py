"""Flapping: repeated withdraw/announce cycles of a watched prefix (the December 2014 pattern).

A *cycle* is one session withdrawing the prefix and announcing it again. A session reset
(a STATE change) is not counted: it is the session flapping, not the prefix. The prefix is
*flapping* while at least one session completed ``flap_count`` cycles within the last
``flap_window`` seconds; the finding closes, with its duration, once ``flap_window`` passes
without a new cycle. Subjects are every prefix a watch relates to (exact, more-specific, or
originated by a watched ASN).
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

from tui.core.detectors.base import RoutingDetector, format_duration, peer_text, summarise_update
from tui.core.events import Event, Finding, PeerKey, RouteAnnounced, RouteWithdrawn, Severity
from tui.core.prefixes import Prefix

__all__ = ["FlapDetector"]


class FlapDetector(RoutingDetector):
    """Finding ``flapping`` (warning)."""

    name = "flapping"

    def __init__(self, watchlist: Any, settings: Any = None) -> None:
        super().__init__(watchlist, settings)
        self.withdrawn: dict[tuple[Prefix, PeerKey], float] = {}
        """(prefix, session) → when the session withdrew it (a cycle is pending)."""
        self.cycles: dict[tuple[str, Prefix], deque[tuple[float, PeerKey]]] = {}
        """(watch, prefix) → completed cycles, oldest first."""
        self.recent: dict[tuple[str, Prefix], deque[str]] = {}
        self.last_cycle: dict[tuple[str, Prefix], float] = {}

    def on_event(self, event: Event, rels: Any, changed: Any, out: list[Finding]) -> None:
        if not isinstance(event, RouteAnnounced | RouteWithdrawn):
            return
        watches = sorted({watch for watch, _, _ in rels})
        if not watches:
            # A withdrawal of a prefix kept only through its origin: find its watches by origin.
            watches = sorted({w for (w, p) in self.cycles if p == event.prefix})
        key_peer = (event.prefix, event.peer)
        line = summarise_update(event)
        for watch in watches:
            self.recent.setdefault((watch, event.prefix), deque(maxlen=self.settings.evidence_updates)).append(line)
        if isinstance(event, RouteWithdrawn):
            self.withdrawn.setdefault(key_peer, event.ts)
            return
        if key_peer not in self.withdrawn:
            return
        del self.withdrawn[key_peer]
        for watch in watches:
            subject = (watch, event.prefix)
            series = self.cycles.setdefault(subject, deque())
            series.append((event.ts, event.peer))
            self.last_cycle[subject] = event.ts
            self._judge(subject, event.ts, out)

    def _judge(self, subject: tuple[str, Prefix], ts: float, out: list[Finding]) -> None:
        watch, prefix = subject
        th = self.watchlist.thresholds(watch)
        series = self.cycles[subject]
        while series and series[0][0] < ts - th.flap_window:
            series.popleft()
        per_peer = Counter(peer for _, peer in series)
        flapping = sorted((p for p, n in per_peer.items() if n >= th.flap_count), key=lambda p: (-per_peer[p], p))
        if not flapping:
            return
        per_collector = Counter(peer.collector for _, peer in series)
        evidence = {
            "prefix": str(prefix),
            "window": th.flap_window,
            "flap_count": th.flap_count,
            "cycles_in_window": len(series),
            "sessions_flapping": len(flapping),
            "sessions": {peer_text(p): per_peer[p] for p in flapping[:20]},
            "cycles_per_collector": dict(sorted(per_collector.items())),
            "updates": list(self.recent.get(subject, ())),
        }
        summary = (
            f"{prefix} flapping: sessions with >= {th.flap_count} withdraw/announce "
            f"cycles within {format_duration(th.flap_window)}"
        )
        existing = self.findings.get("flapping", watch, str(prefix))
        started = existing.started if existing else series[0][0]
        self.emit(out, self.findings.raise_(
            ts, kind="flapping", watch=watch, subject=str(prefix), severity=Severity.WARNING,
            summary=summary, evidence=evidence, started=started,
        ))

    def fire(self, ts: float, out: list[Finding]) -> None:
        due = []
        for finding in self.findings.open.values():
            subject = (finding.watch, Prefix.parse(finding.subject))
            window = self.watchlist.thresholds(finding.watch).flap_window
            when = self.last_cycle.get(subject, finding.ts) + window
            if when <= ts:
                due.append((when, subject, finding))
        for when, subject, finding in sorted(due, key=lambda d: (d[0], d[2].finding_id)):
            series = self.cycles.get(subject, deque())
            self.emit(out, self.findings.close(
                when, kind="flapping", watch=finding.watch, subject=finding.subject,
                summary=f"{finding.subject} stable again: no withdraw/announce cycle for "
                f"{format_duration(self.watchlist.thresholds(finding.watch).flap_window)}",
                evidence={"cycles_total": len(series)},
            ))
            series.clear()

    def snapshot_own(self) -> dict[str, Any]:
        return {
            "withdrawn": [[str(p), list(peer), ts] for (p, peer), ts in self.withdrawn.items()],
            "cycles": [[w, str(p), [[ts, list(peer)] for ts, peer in s]] for (w, p), s in self.cycles.items()],
            "recent": [[w, str(p), list(r)] for (w, p), r in self.recent.items()],
            "last_cycle": [[w, str(p), ts] for (w, p), ts in self.last_cycle.items()],
        }

    def restore_own(self, data: dict[str, Any]) -> None:
        def peer(item: list[Any]) -> PeerKey:
            return PeerKey(item[0], item[1], int(item[2]))

        self.withdrawn = {(Prefix.parse(p), peer(k)): ts for p, k, ts in data.get("withdrawn", ())}
        self.cycles = {
            (w, Prefix.parse(p)): deque((ts, peer(k)) for ts, k in s) for w, p, s in data.get("cycles", ())
        }
        self.recent = {
            (w, Prefix.parse(p)): deque(r, maxlen=self.settings.evidence_updates) for w, p, r in data.get("recent", ())
        }
        self.last_cycle = {(w, Prefix.parse(p)): ts for w, p, ts in data.get("last_cycle", ())}
