"""DNS latency spikes: answers much slower than usual, or slower than the watch allows.

Failures (timeouts, refusals, a zone down, serial mismatches) are :class:`tui.core.detectors.dns.DnsMonitor`'s
findings; this detector only looks at answers that came back. A check's answer is *slow* when
its round trip is above ``Thresholds.dns_latency_warn`` of the zone's watch, or a *spike* when
it is ``dns_latency_factor`` times the check's own p95 (over its last answers, once there are
``dns_latency_samples``) and above ``dns_latency_floor``. ``dns_slow_results`` slow answers in
a row open ``dns_latency`` (warning); the first normal answer closes it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from tui.core.detectors.base import DetectorSettings, FindingBook
from tui.core.dns import check_key, percentile
from tui.core.events import DnsProbeResult, Event, Finding, Severity
from tui.core.watchlist import Thresholds

__all__ = ["DnsLatencyDetector"]

_KEEP = 100


class DnsLatencyDetector:
    """Finding ``dns_latency``."""

    name = "dns_latency"

    def __init__(self, watchlist: Any, settings: DetectorSettings | None = None) -> None:
        self.watchlist = watchlist
        self.settings = settings or DetectorSettings()
        self.findings = FindingBook()
        self.normal: dict[str, deque[float]] = {}
        self.slow_run: dict[str, list[float]] = {}

    def observe(self, events: Sequence[Event], view: Any, now: float) -> list[Finding]:
        """Judge every answered probe in the batch."""
        out: list[Finding] = []
        for event in events:
            if isinstance(event, DnsProbeResult) and event.outcome == "ok" and event.latency is not None:
                found = self._judge(event)
                if found is not None:
                    out.append(found)
        return out

    def tick(self, view: Any, now: float) -> list[Finding]:
        """Nothing is time-based: only answers say how fast a server is."""
        return []

    def _limit(self, zone: str) -> float:
        names = self.watchlist.zones().get(zone, [])
        return min((self.watchlist.thresholds(n).dns_latency_warn for n in names), default=Thresholds().dns_latency_warn)

    def _judge(self, result: DnsProbeResult) -> Finding | None:
        key = check_key(result)
        subject = f"{result.zone} {result.role} {_where(result.address, result.port)}/{result.transport}"
        if result.role != "authoritative":
            subject += f" {result.qname} {result.qtype}"
        ident = "|".join(str(part) for part in key)
        history = self.normal.setdefault(ident, deque(maxlen=_KEEP))
        latency = float(result.latency or 0.0)
        limit = self._limit(result.zone)
        p95 = percentile(list(history), 0.95) if len(history) >= self.settings.dns_latency_samples else None
        too_slow = latency > limit
        spike = (
            p95 is not None
            and latency > self.settings.dns_latency_factor * p95
            and latency > self.settings.dns_latency_floor
        )
        watch = ", ".join(self.watchlist.zones().get(result.zone, []))
        if not (too_slow or spike):
            history.append(latency)
            self.slow_run.pop(ident, None)
            return self.findings.close(
                result.ts, kind="dns_latency", watch=watch, subject=subject,
                summary=f"{subject} answers in {latency * 1000:.0f} ms again",
                evidence={"latency": latency},
            )
        run = self.slow_run.setdefault(ident, [])
        run.append(latency)
        if len(run) < self.settings.dns_slow_results:
            return None
        why = []
        if too_slow:
            why.append(f"above the {limit * 1000:.0f} ms limit")
        if spike and p95 is not None:
            why.append(f"{latency / p95:.1f}x its usual p95 of {p95 * 1000:.0f} ms")
        median = percentile(list(history), 0.5) if history else None
        return self.findings.raise_(
            result.ts, kind="dns_latency", watch=watch, subject=subject, severity=Severity.WARNING,
            summary=f"{subject} slow: {latency * 1000:.0f} ms ({'; '.join(why)})",
            evidence={"zone": result.zone, "server": result.server, "address": result.address, "port": result.port,
                      "transport": result.transport, "latency": latency, "limit": limit, "usual_p95": p95,
                      "usual_p50": median, "slow_answers": [round(x, 4) for x in run[-10:]]},
            started=result.ts if len(run) == 1 else None,
        )

    def snapshot(self) -> dict[str, Any]:
        """Latency history and open findings."""
        return {
            "normal": {k: list(v) for k, v in self.normal.items()},
            "slow_run": dict(self.slow_run),
            "open": self.findings.snapshot(),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Inverse of :meth:`snapshot`."""
        self.normal = {k: deque(v, maxlen=_KEEP) for k, v in data.get("normal", {}).items()}
        self.slow_run = {k: list(v) for k, v in data.get("slow_run", {}).items()}
        self.findings.restore(data.get("open", ()))


def _where(address: str, port: int) -> str:
    if address.startswith(("http://", "https://")):
        return address
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
