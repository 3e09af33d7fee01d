"""Delivering findings to sinks: filtering, de-duplication, re-notification, retries.

:class:`AlertDispatcher` is fed from the engine's side synchronously (:meth:`publish` after each
batch, :meth:`tick` on idle) and never blocks it: every sink has its own queue and worker
task. A delivery that fails is retried with exponential backoff (``backoff``, doubled each
time, at most ``retries`` extra tries); when it still fails it is counted and reported
through ``on_error`` (a plain text line), and the worker goes on with the next alert.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tui.alerts.base import Alert, Sink, SinkError
from tui.alerts.jsonl import JsonlSink
from tui.alerts.webhook import WebhookSink, _redacted
from tui.core.events import Finding, Severity

__all__ = ["AlertDispatcher", "SinkStats", "sinks_from_config"]


@dataclass(slots=True)
class SinkStats:
    """What happened at one sink."""

    queued: int = 0
    sent: int = 0
    failed: int = 0
    retries: int = 0
    duplicates: int = 0
    filtered: int = 0
    last_error: str = ""


class AlertDispatcher:
    """Routes findings to sinks (see the module docstring)."""

    def __init__(
        self,
        sinks: Iterable[Sink],
        *,
        min_severity: str = Severity.WARNING,
        renotify: float = 3600.0,
        retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        on_error: Callable[[str], None] | None = None,
        queue_size: int = 10000,
    ) -> None:
        self.sinks = list(sinks)
        # Two sinks may share a name (the same hook in two formats): keys must still be unique.
        self._keys: list[str] = []
        for sink in self.sinks:
            key = sink.name
            while key in self._keys:
                key = f"{sink.name} #{len(self._keys) + 1}"
            self._keys.append(key)
        self.min_rank = Severity.RANK.get(min_severity, 1)
        self.renotify = renotify
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._on_error = on_error or (lambda message: None)
        self.stats: dict[str, SinkStats] = {k: SinkStats() for k in self._keys}
        """Per sink (by its name, made unique), what happened."""
        self._queues: dict[str, asyncio.Queue[Alert | None]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._queue_size = queue_size
        self._last_sent: dict[tuple[str, str], tuple[str, str, str]] = {}
        """(sink, finding_id) → (state, severity, summary) last queued: repeats are dropped."""
        self._open: dict[str, tuple[Finding, float]] = {}
        """finding_id → (latest state, when it was last queued) for still-open findings."""

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start one delivery worker per sink (needs a running event loop)."""
        if self._workers:
            return
        for key, sink in zip(self._keys, self.sinks, strict=True):
            queue: asyncio.Queue[Alert | None] = asyncio.Queue(self._queue_size)
            self._queues[key] = queue
            self._workers.append(asyncio.create_task(self._work(sink, key, queue), name=f"alerts:{key}"))

    async def aclose(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (at most ``timeout`` seconds), then stop and close the sinks."""
        for queue in self._queues.values():
            try:
                queue.put_nowait(None)
            except asyncio.QueueFull:
                pass
        if self._workers:
            done, pending = await asyncio.wait(self._workers, timeout=timeout)
            for task in pending:
                task.cancel()
                self._on_error(
                    f"alerts: {task.get_name()} still busy after {timeout:.0f}s at shutdown; undelivered alerts dropped"
                )
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        for sink in self.sinks:
            try:
                await sink.aclose()
            except Exception as exc:  # noqa: BLE001 - a sink failing to close must not stop shutdown
                self._on_error(f"alerts: closing {sink.name} failed: {exc}")
        self._workers = []

    # -- feeding (synchronous, never blocks) ----------------------------------------------------

    def publish(self, findings: Iterable[Finding], now: float) -> int:
        """Queue each finding state for every sink that wants it; returns how many were queued."""
        queued = 0
        for finding in findings:
            if finding.state == "close":
                self._open.pop(finding.finding_id, None)
            else:
                self._open[finding.finding_id] = (finding, now)
            queued += self._route(Alert(finding), dedupe=True)
        return queued

    def tick(self, now: float) -> int:
        """Re-notify open findings not sent for ``renotify`` seconds; returns how many."""
        if self.renotify <= 0:
            return 0
        queued = 0
        for finding_id, (finding, last) in sorted(self._open.items()):
            if now - last >= self.renotify:
                self._open[finding_id] = (finding, now)
                queued += self._route(Alert(finding, renotify=True), dedupe=False)
        return queued

    def _route(self, alert: Alert, *, dedupe: bool) -> int:
        finding = alert.finding
        rank = Severity.RANK.get(finding.severity, 0)
        queued = 0
        for name, sink in zip(self._keys, self.sinks, strict=True):
            stats = self.stats[name]
            if rank < max(self.min_rank, Severity.RANK.get(sink.min_severity, 0)):
                stats.filtered += 1
                continue
            key = (name, finding.finding_id)
            signature = (finding.state, finding.severity, finding.summary)
            if dedupe and self._last_sent.get(key) == signature:
                stats.duplicates += 1
                continue
            self._last_sent[key] = signature
            queue = self._queues.get(name)
            if queue is None:
                stats.failed += 1
                stats.last_error = "dispatcher not started"
                self._on_error(f"alerts: {name}: dispatcher not started; alert dropped")
                continue
            try:
                queue.put_nowait(alert)
            except asyncio.QueueFull:
                stats.failed += 1
                stats.last_error = "queue full"
                self._on_error(f"alerts: {name}: {self._queue_size} alerts waiting; dropping {finding.finding_id}")
                continue
            stats.queued += 1
            queued += 1
        return queued

    async def drain(self) -> None:
        """Wait until every queued alert has been attempted."""
        await asyncio.gather(*(q.join() for q in self._queues.values()))

    # -- delivery -------------------------------------------------------------------------------

    async def _work(self, sink: Sink, key: str, queue: asyncio.Queue[Alert | None]) -> None:
        stats = self.stats[key]
        while True:
            alert = await queue.get()
            try:
                if alert is None:
                    return
                await self._deliver(sink, alert, stats)
            finally:
                queue.task_done()

    async def _deliver(self, sink: Sink, alert: Alert, stats: SinkStats) -> None:
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                await sink.send(alert)
            except SinkError as exc:
                stats.last_error = str(exc)
                if exc.retry and attempt < self.retries:
                    stats.retries += 1
                    await self._sleep(delay)
                    delay *= 2
                    continue
                stats.failed += 1
                tries = attempt + 1
                self._on_error(f"alerts: {exc} (gave up after {tries} attempt{'s' if tries > 1 else ''}; "
                               f"finding {alert.finding.finding_id})")
                return
            except Exception as exc:  # noqa: BLE001 - a buggy sink must not kill its worker
                stats.failed += 1
                stats.last_error = f"{type(exc).__name__}: {exc}"
                self._on_error(f"alerts: {sink.name}: unexpected {type(exc).__name__}: {exc}")
                return
            stats.sent += 1
            return


def sinks_from_config(alerts: Any, *, jsonl: str | None = None, transport: Any = None) -> list[Sink]:
    """Sinks for an :class:`~tui.config.AlertsConfig` (``jsonl`` overrides ``[alerts] jsonl``)."""
    sinks: list[Sink] = []
    target = jsonl if jsonl is not None else alerts.jsonl
    if target:
        sinks.append(JsonlSink(target, min_severity=alerts.min_severity))
    for index, hook in enumerate(alerts.webhooks):
        sinks.append(
            WebhookSink(hook.url, fmt=hook.format, min_severity=hook.min_severity, transport=transport,
                        name=f"webhook#{index + 1} {_redacted(hook.url)}")
        )
    return sinks
