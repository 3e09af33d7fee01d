"""Incidents: related findings of one watch grouped into one story, pure.

An incident of a watch opens with its first finding of at least ``min_severity`` (warning by
default: an info finding such as a legitimate new more-specific is context, not an incident),
gathers every further finding of that watch while it is open — a visibility loss and the DNS
timeouts of the same watch's zone are one incident — and closes when all its findings have
closed, with its duration. A finding that opens within ``linger`` seconds after the incident
closed reopens it (a prefix flapping out and back in is one story, not ten).

Feed findings have no watch (``watch == ""``): they form their own incidents, titled by feed.

:func:`build_incidents` rebuilds incidents from a sequence of Finding events (the console, the
report and the collector all share it); :class:`IncidentTracker` does it incrementally.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tui.core.events import Finding, Severity

__all__ = ["Incident", "IncidentTracker", "build_incidents"]


@dataclass(slots=True)
class Incident:
    """One story on one watch: its findings (latest state of each), when it began and ended."""

    incident_id: str
    watch: str
    opened: float
    closed: float | None = None
    severity: str = Severity.INFO
    findings: dict[str, Finding] = field(default_factory=dict)
    """finding_id → the finding's latest state."""
    history: list[Finding] = field(default_factory=list)
    """Every Finding event of the incident, in arrival order (the timeline)."""
    last_change: float = 0.0

    @property
    def is_open(self) -> bool:
        """True while any of its findings is open."""
        return self.closed is None

    def duration(self, now: float | None = None) -> float:
        """Seconds from opening to closing (or to ``now`` while open)."""
        end = self.closed if self.closed is not None else (now if now is not None else self.last_change)
        return max(0.0, end - self.opened)

    @property
    def kinds(self) -> list[str]:
        """Finding kinds involved, sorted."""
        return sorted({f.kind for f in self.findings.values()})

    @property
    def subjects(self) -> list[str]:
        """Subjects involved (prefixes, servers, feeds), sorted."""
        return sorted({f.subject for f in self.findings.values()})

    def open_findings(self) -> list[Finding]:
        """Findings of the incident not yet closed, most severe first."""
        live = [f for f in self.findings.values() if f.state != "close"]
        return sorted(live, key=lambda f: (-Severity.RANK.get(f.severity, 0), f.started, f.finding_id))

    @property
    def title(self) -> str:
        """A one-line description: the watch and what happened."""
        who = self.watch or "feeds"
        return f"{who}: {', '.join(self.kinds)}"


class IncidentTracker:
    """Builds incidents as findings arrive (same rules as :func:`build_incidents`)."""

    def __init__(self, *, min_severity: str = Severity.WARNING, linger: float = 0.0) -> None:
        self.min_rank = Severity.RANK.get(min_severity, 1)
        self.linger = linger
        self.incidents: list[Incident] = []
        self._by_finding: dict[str, Incident] = {}
        self._current: dict[str, Incident] = {}
        """watch → its most recent incident (open, or closed and possibly lingering)."""

    def add(self, finding: Finding) -> Incident | None:
        """Take one Finding event; returns the incident it changed, if any."""
        incident = self._by_finding.get(finding.finding_id)
        if incident is None:
            if finding.state == "close":
                return None  # closing something we never saw open (window started mid-way)
            incident = self._current.get(finding.watch)
            reopen = (
                incident is not None
                and incident.closed is not None
                and finding.ts - incident.closed <= self.linger
            )
            if incident is None or (incident.closed is not None and not reopen):
                if Severity.RANK.get(finding.severity, 0) < self.min_rank:
                    return None
                incident = Incident(
                    f"{finding.watch or 'feeds'}@{finding.started:.3f}", finding.watch, finding.started,
                )
                self.incidents.append(incident)
                self._current[finding.watch] = incident
            elif reopen:
                incident.closed = None
            self._by_finding[finding.finding_id] = incident
        incident.findings[finding.finding_id] = finding
        incident.history.append(finding)
        incident.last_change = max(incident.last_change, finding.ts)
        if Severity.RANK.get(finding.severity, 0) > Severity.RANK.get(incident.severity, 0):
            incident.severity = finding.severity
        if all(f.state == "close" for f in incident.findings.values()):
            incident.closed = max(f.ts for f in incident.findings.values())
        else:
            incident.closed = None
        return incident

    def open_incidents(self) -> list[Incident]:
        """Incidents still open, most severe and oldest first."""
        live = [i for i in self.incidents if i.is_open]
        return sorted(live, key=lambda i: (-Severity.RANK.get(i.severity, 0), i.opened))


def build_incidents(
    findings: Iterable[Finding], *, min_severity: str = Severity.WARNING, linger: float = 0.0
) -> list[Incident]:
    """Group a sequence of Finding events (in time order) into incidents, oldest first."""
    tracker = IncidentTracker(min_severity=min_severity, linger=linger)
    for finding in findings:
        tracker.add(finding)
    return sorted(tracker.incidents, key=lambda i: (i.opened, i.incident_id))
