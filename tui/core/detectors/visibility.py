"""Visibility loss and outage of watched prefixes (and of their legitimate more-specifics).

Meanings:

- *visibility* of a prefix = full-feed sessions holding a route to exactly it / full-feed
  sessions up (DESIGN.md). When no full-feed session is up (feeds broken or silent) the ratio
  is unknown, and unknown is never a loss: pending drops are dropped, open findings stay open
  (nobody can say the prefix came back either).
- a *loss* is a drop below ``visibility_warn`` (warning) or ``visibility_critical`` (critical)
  of a prefix that was seen at or above ``visibility_warn`` before (a prefix never seen well,
  e.g. at the start of an updates-only file, has no baseline to lose). It is reported once it
  has lasted ``min_duration`` seconds of event time; it closes once visibility is back
  ``hysteresis`` above the threshold it crossed.
- an *outage* is: no full-feed session sees a prefix that was seen before, while full-feed
  sessions are up, for ``min_duration``. Recovery closes it with its duration.

Subjects are the watched prefixes, more-specifics of them announced by a legitimate origin
(the December 2014 North Korean /24s inside the watched /22), and prefixes originated by a
watched ASN.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tui.core.clock import format_time
from tui.core.detectors.base import (
    ALL_PREFIXES,
    OriginMemory,
    RoutingDetector,
    format_duration,
    legit_origin,
    peer_text,
    summarise_update,
)
from tui.core.events import Event, Finding, PeerStateChanged, RouteAnnounced, RouteWithdrawn, Severity
from tui.core.prefixes import Prefix
from tui.core.watchlist import Thresholds

__all__ = ["VisibilityDetector", "level_of"]

_OK, _WARN, _CRIT = "ok", Severity.WARNING, Severity.CRITICAL
_RANK = {_OK: 0, _WARN: 1, _CRIT: 2}


def level_of(ratio: float, thresholds: Thresholds, reported: str = _OK) -> str:
    """The level of ``ratio``, with hysteresis against the level currently ``reported``.

    Leaving a level needs ``hysteresis`` above the threshold that was crossed to get there.
    """
    if ratio < thresholds.visibility_critical:
        raw = _CRIT
    elif ratio < thresholds.visibility_warn:
        raw = _WARN
    else:
        raw = _OK
    if reported == _CRIT and raw != _CRIT and ratio < thresholds.visibility_critical + thresholds.hysteresis:
        return _CRIT
    if reported in (_WARN, _CRIT) and raw == _OK and ratio < thresholds.visibility_warn + thresholds.hysteresis:
        return _WARN
    return raw


@dataclass(slots=True)
class _Subject:
    watch: str
    prefix: Prefix
    parent: str  # the watched prefix it lies inside, "" when it is watched itself
    seen: bool = False
    baseline: bool = False
    level: str = _OK
    pending: dict[str, Any] | None = None
    outage_open: bool = False
    outage_since: float | None = None
    last: tuple[int, int] = (0, 0)
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=5))

    def to_json(self) -> dict[str, Any]:
        return {
            "watch": self.watch, "prefix": str(self.prefix), "parent": self.parent, "seen": self.seen,
            "baseline": self.baseline, "level": self.level, "pending": self.pending,
            "outage_open": self.outage_open, "outage_since": self.outage_since, "last": list(self.last),
            "recent": list(self.recent),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], keep: int) -> _Subject:
        subject = cls(data["watch"], Prefix.parse(data["prefix"]), data.get("parent", ""))
        subject.seen = data.get("seen", False)
        subject.baseline = data.get("baseline", False)
        subject.level = data.get("level", _OK)
        subject.pending = data.get("pending")
        subject.outage_open = data.get("outage_open", False)
        subject.outage_since = data.get("outage_since")
        subject.last = tuple(data.get("last", (0, 0)))
        subject.recent = deque(data.get("recent", ()), maxlen=keep)
        return subject


class VisibilityDetector(RoutingDetector):
    """Findings ``visibility`` (warning/critical) and ``outage`` (critical)."""

    name = "visibility"

    def __init__(self, watchlist: Any, settings: Any = None) -> None:
        super().__init__(watchlist, settings)
        self.subjects: dict[tuple[str, Prefix], _Subject] = {}
        self._entries_seen = -1
        self.origins = OriginMemory()

    # -- subjects -------------------------------------------------------------------------------

    def _ensure_watched(self) -> None:
        entries = self.watchlist.entries()
        if len(entries) == self._entries_seen:
            return
        self._entries_seen = len(entries)
        for entry in entries:
            key = (entry.watch, entry.prefix)
            if key not in self.subjects:
                self.subjects[key] = self._new_subject(entry.watch, entry.prefix, "")

    def _new_subject(self, watch: str, prefix: Prefix, parent: str) -> _Subject:
        return _Subject(watch, prefix, parent, recent=deque(maxlen=self.settings.evidence_updates))

    def _subjects_of(self, prefix: Prefix) -> list[_Subject]:
        return [s for (w, p), s in self.subjects.items() if p == prefix]

    # -- hooks ----------------------------------------------------------------------------------

    def before_event(self, event: Event) -> None:
        self._ensure_watched()
        if isinstance(event, PeerStateChanged) and not event.is_up:
            # Quote the session loss on the prefixes it took away.
            line = summarise_update(event)
            for subject in self.subjects.values():
                if self.table.holds(event.peer, subject.prefix):
                    subject.recent.append(line)

    def on_event(self, event: Event, rels: Any, changed: Any, out: list[Finding]) -> None:
        if isinstance(event, RouteAnnounced):
            self.origins.note(event, rels)
            for watch, watched, relation in rels:
                if relation == "exact":
                    continue
                key = (watch, event.prefix)
                if key in self.subjects:
                    continue
                if relation == "more_specific":
                    if legit_origin(self.watchlist, watch, event.origin, self.origins.of(watched)) is False:
                        continue  # a foreign origin inside watched space: the hijack detector's case
                    self.subjects[key] = self._new_subject(watch, event.prefix, str(watched))
                elif relation == "origin":
                    self.subjects[key] = self._new_subject(watch, event.prefix, "")
        if isinstance(event, RouteAnnounced | RouteWithdrawn):
            line = summarise_update(event)
            for subject in self._subjects_of(event.prefix):
                subject.recent.append(line)
        if changed is None:
            return
        if changed is ALL_PREFIXES:
            targets = list(self.subjects.values())
        else:
            targets = [s for p in changed for s in self._subjects_of(p)]
        for subject in targets:
            self._evaluate(subject, event.ts, out)

    def fire(self, ts: float, out: list[Finding]) -> None:
        due: list[tuple[float, int, _Subject, str]] = []
        for index, subject in enumerate(self.subjects.values()):
            minimum = self.watchlist.thresholds(subject.watch).min_duration
            if subject.pending is not None and subject.pending["since"] + minimum <= ts:
                due.append((subject.pending["since"] + minimum, index, subject, "visibility"))
            if subject.outage_since is not None and subject.outage_since + minimum <= ts:
                due.append((subject.outage_since + minimum, index, subject, "outage"))
        for when, _, subject, kind in sorted(due, key=lambda d: (d[0], d[1], d[3])):
            if kind == "visibility":
                self._confirm_loss(subject, when, out)
            else:
                self._confirm_outage(subject, when, out)

    # -- judging --------------------------------------------------------------------------------

    def _evaluate(self, subject: _Subject, ts: float, out: list[Finding]) -> None:
        visible, full = self.table.visibility(subject.prefix)
        if full == 0:
            # Nothing can be said: never start a loss or an outage on unknown data.
            subject.pending = None
            subject.outage_since = None
            return
        subject.last = (visible, full)
        ratio = visible / full
        th = self.watchlist.thresholds(subject.watch)
        # Outage first: it needs "seen before", which this very sample must not establish.
        if visible == 0:
            if not subject.outage_open and subject.outage_since is None and subject.seen:
                subject.outage_since = ts
        else:
            subject.outage_since = None
            if subject.outage_open:
                subject.outage_open = False
                self.emit(out, self.findings.close(
                    ts, kind="outage", watch=subject.watch, subject=str(subject.prefix),
                    summary=f"{subject.prefix} reachable again: seen by {visible}/{full} full-feed peers",
                    evidence=self._evidence(subject, th.visibility_warn),
                ))
            subject.seen = True
        if ratio >= th.visibility_warn:
            subject.baseline = True
        level = level_of(ratio, th, subject.level)
        if _RANK[level] > _RANK[subject.level]:
            if not subject.baseline:
                return
            if subject.pending is None:
                subject.pending = {"since": ts, "level": level, "lowest": ratio}
            else:
                subject.pending["level"] = level
                subject.pending["lowest"] = min(subject.pending["lowest"], ratio)
            return
        subject.pending = None
        if _RANK[level] < _RANK[subject.level]:
            subject.level = level
            if level == _OK:
                self.emit(out, self.findings.close(
                    ts, kind="visibility", watch=subject.watch, subject=str(subject.prefix),
                    summary=f"{subject.prefix} visibility recovered: {visible}/{full} ({ratio:.0%})",
                    evidence=self._evidence(subject, th.visibility_warn),
                ))
            else:
                self.emit(out, self._loss_finding(subject, ts, th.visibility_warn, None))

    def _confirm_loss(self, subject: _Subject, when: float, out: list[Finding]) -> None:
        pending = subject.pending
        assert pending is not None
        subject.pending = None
        subject.level = pending["level"]
        th = self.watchlist.thresholds(subject.watch)
        limit = th.visibility_critical if subject.level == _CRIT else th.visibility_warn
        self.emit(out, self._loss_finding(subject, when, limit, pending))

    def _loss_finding(self, subject: _Subject, ts: float, limit: float, pending: dict[str, Any] | None) -> Finding | None:
        visible, full = subject.last
        ratio = visible / full if full else 0.0
        th = self.watchlist.thresholds(subject.watch)
        evidence = self._evidence(subject, limit)
        if pending is not None:
            evidence["lowest_ratio"] = round(pending["lowest"], 4)
        inside = f" (inside {subject.parent})" if subject.parent else ""
        summary = (
            f"{subject.prefix}{inside} visibility {visible}/{full} ({ratio:.0%}) below "
            f"{limit:.0%} for at least {format_duration(th.min_duration)}"
        )
        return self.findings.raise_(
            ts, kind="visibility", watch=subject.watch, subject=str(subject.prefix), severity=subject.level,
            summary=summary, evidence=evidence, started=pending["since"] if pending else None,
        )

    def _confirm_outage(self, subject: _Subject, when: float, out: list[Finding]) -> None:
        since = subject.outage_since
        assert since is not None
        subject.outage_since = None
        subject.outage_open = True
        _, full = subject.last
        inside = f" (inside {subject.parent})" if subject.parent else ""
        self.emit(out, self.findings.raise_(
            when, kind="outage", watch=subject.watch, subject=str(subject.prefix), severity=Severity.CRITICAL,
            summary=f"outage: no full-feed peer sees {subject.prefix}{inside} ({full} up) since {format_time(since)}",
            evidence=self._evidence(subject, self.watchlist.thresholds(subject.watch).visibility_warn),
            started=since,
        ))

    def _evidence(self, subject: _Subject, threshold: float) -> dict[str, Any]:
        visible, full = self.table.visibility(subject.prefix)
        holders = self.table.holders(subject.prefix)
        full_set = self.table.full_feed(subject.prefix.version)
        not_seeing = sorted(peer_text(p) for p in full_set if p not in holders)
        return {
            "prefix": str(subject.prefix),
            "watched": subject.parent or str(subject.prefix),
            "visible": visible,
            "full_feed": full,
            "ratio": round(visible / full, 4) if full else None,
            "threshold": threshold,
            "basis": self.table.basis_of(subject.prefix.version),
            "unknown_peers": self.table.unknown_count(),
            "collectors": self.table.per_collector(subject.prefix),
            "peers_not_seeing": not_seeing[:20],
            "peers_not_seeing_total": len(not_seeing),
            "covering_routes": self.table.covering(subject.prefix),
            "updates": list(subject.recent),
        }

    # -- the end of the data --------------------------------------------------------------------

    def pending_own(self, now: float) -> list[Finding]:
        """Drops and outages under way but shorter than ``min_duration`` at ``now``."""
        out = []
        for subject in self.subjects.values():
            th = self.watchlist.thresholds(subject.watch)
            inside = f" (inside {subject.parent})" if subject.parent else ""
            visible, full = subject.last
            needs = f"not yet the {format_duration(th.min_duration)} a finding needs"
            pending = subject.pending
            if pending is not None:
                limit = th.visibility_critical if pending["level"] == _CRIT else th.visibility_warn
                evidence = self._evidence(subject, limit)
                evidence["lowest_ratio"] = round(pending["lowest"], 4)
                ratio = visible / full if full else 0.0
                out.append(self.findings.pending(
                    now, kind="visibility", watch=subject.watch, subject=str(subject.prefix), severity=pending["level"],
                    summary=f"{subject.prefix}{inside} visibility {visible}/{full} ({ratio:.0%}) below {limit:.0%}, {needs}",
                    evidence=evidence, started=pending["since"],
                ))
            if subject.outage_since is not None:
                out.append(self.findings.pending(
                    now, kind="outage", watch=subject.watch, subject=str(subject.prefix), severity=Severity.CRITICAL,
                    summary=f"outage: no full-feed peer sees {subject.prefix}{inside} ({full} up), {needs}",
                    evidence=self._evidence(subject, th.visibility_warn), started=subject.outage_since,
                ))
        return out

    # -- checkpoints ----------------------------------------------------------------------------

    def snapshot_own(self) -> dict[str, Any]:
        return {
            "subjects": [s.to_json() for s in self.subjects.values()],
            "known_origins": self.origins.snapshot(),
        }

    def restore_own(self, data: dict[str, Any]) -> None:
        self.subjects = {}
        for item in data.get("subjects", ()):
            subject = _Subject.from_json(item, self.settings.evidence_updates)
            self.subjects[(subject.watch, subject.prefix)] = subject
        self.origins.restore(data.get("known_origins", {}))
        self._entries_seen = -1
