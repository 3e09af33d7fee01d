"""NATS JetStream transport: a publisher for the collector, a follower for consoles.

:class:`NatsPublisher` is a :class:`~tui.core.engine.Recorder`: the collector's engine hands it
each applied batch (``append``), it queues the events and a background task publishes them
with ``Nats-Msg-Id`` headers and waits for JetStream's acks, retrying with the same ids after a
failure (so a retry never duplicates). It also sends a heartbeat every few seconds and a
"stopped" heartbeat on a clean exit.

:class:`NatsFollower` reads the stream from the start, from a start time (JetStream's
``DeliverPolicy.BY_START_TIME``) or only new messages, through an ephemeral ordered consumer,
and yields batches of events; heartbeats become ``bus/<instance>`` feed status events (see
:mod:`tui.bus.monitor`), bad messages become :class:`~tui.core.events.RecordRejected`.

Both must run inside one asyncio event loop; ``append`` is called from that loop's thread.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import re
import socket
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api

from tui.bus.monitor import HeartbeatMonitor
from tui.bus.protocol import (
    HEADER_INSTANCE,
    HEADER_MSG_ID,
    HEADER_SHARD,
    BusAddress,
    BusError,
    Heartbeat,
    MessageIds,
    heartbeat_subject,
    instance_of_subject,
    parse_bus_url,
    subject_for,
    subject_token,
)
from tui.bus.shard import ALL, Shard
from tui.core.clock import Clock, SystemClock
from tui.core.events import (
    Event,
    EventDecodeError,
    FeedStatus,
    RecordRejected,
    event_from_dict,
    event_to_json,
)

__all__ = [
    "NatsPublisher",
    "NatsFollower",
    "StreamSettings",
    "ensure_stream",
    "connect",
    "default_instance_name",
    "BUS_FEED",
]

BUS_FEED = "bus"
"""Feed name for the consumer's own connection and for messages it could not read."""

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """How the collector creates (or updates) the JetStream stream."""

    max_age: float = 7 * 86400.0
    """Seconds a message is kept: how far back a console can replay."""
    max_bytes: int = 4 * 1024**3
    """Size cap; the oldest messages go first."""
    duplicate_window: float = 600.0
    """Seconds JetStream remembers message ids: a collector restarted within this re-publishes
    without duplicates."""
    memory: bool = False
    """Keep the stream in memory instead of on disk (tests, benchmarks)."""


def default_instance_name(shard: Shard = ALL) -> str:
    """``<host>`` or ``<host>-<K>of<N>``: stable across restarts, so re-published events dedupe."""
    name = socket.gethostname() or "collector"
    return subject_token(name if shard.count == 1 else f"{name}-{shard.index}of{shard.count}")


def _being_cancelled() -> bool:
    """Whether the running task has been asked to stop.

    nats-py turns a cancellation inside ``publish_async`` into ``TooManyStalledMsgsError``; a
    loop that retries on client errors must check this, or it swallows its own cancellation.
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _printable(text: str, limit: int = 120) -> str:
    """Untrusted text made safe for a log line: no control characters, bounded length."""
    return _UNPRINTABLE.sub("?", text)[:limit]


def _address(address: BusAddress | str) -> BusAddress:
    return parse_bus_url(address) if isinstance(address, str) else address


async def connect(address: BusAddress, *, name: str, timeout: float = 5.0, **callbacks: Any) -> Client:
    """Connect to the bus, reconnecting forever once connected; BusError if it cannot be reached."""
    client = Client()

    async def quiet_error(exc: Exception) -> None:
        # The default callback logs every reconnect attempt; the caller reports state instead.
        return None

    callbacks.setdefault("error_cb", quiet_error)
    try:
        await asyncio.wait_for(
            client.connect(
                servers=list(address.servers),
                name=name,
                connect_timeout=max(1, int(timeout)),
                reconnect_time_wait=1,
                max_reconnect_attempts=-1,
                **callbacks,
            ),
            timeout,
        )
    except (TimeoutError, OSError, nats.errors.Error) as exc:
        await client.close()
        reason = "timed out" if isinstance(exc, asyncio.TimeoutError) else _printable(str(exc) or type(exc).__name__)
        raise BusError(
            f"cannot reach the bus at {address.display} ({reason}); is nats-server running there with -js?"
        ) from None
    return client


def _stream_config(address: BusAddress, settings: StreamSettings) -> api.StreamConfig:
    return api.StreamConfig(
        name=address.stream,
        description="Watchfloor events (one message per event; see tui.bus.protocol)",
        subjects=[f"{address.root}.>"],
        retention=api.RetentionPolicy.LIMITS,
        storage=api.StorageType.MEMORY if settings.memory else api.StorageType.FILE,
        max_age=settings.max_age,
        max_bytes=settings.max_bytes,
        discard=api.DiscardPolicy.OLD,
        duplicate_window=settings.duplicate_window,
    )


async def ensure_stream(
    client: Client, address: BusAddress, settings: StreamSettings = StreamSettings(), *, update: bool = True
) -> None:
    """Create the stream, or bring an existing one to ``settings`` (``update``); idempotent."""
    js = client.jetstream()
    config = _stream_config(address, settings)
    try:
        try:
            info = await js.stream_info(address.stream)
        except nats.js.errors.NotFoundError:
            try:
                await js.add_stream(config)
                return
            except nats.js.errors.BadRequestError:
                # Another collector created it a moment ago: fall through and compare.
                info = await js.stream_info(address.stream)
        current = info.config
        wanted = (config.subjects, config.max_age, config.max_bytes, config.duplicate_window)
        have = (current.subjects, current.max_age, current.max_bytes, current.duplicate_window)
        if update and wanted != have:
            await js.update_stream(config)
    except (nats.errors.NoRespondersError, nats.js.errors.ServiceUnavailableError):
        # Nobody answers JetStream's API subjects: the server runs without it.
        raise BusError(f"the NATS server at {address.display} has no JetStream: start it with -js") from None
    except nats.js.errors.APIError as exc:
        raise BusError(
            f"cannot set up stream {address.stream} on {address.display}: {_printable(exc.description or str(exc))}"
        ) from None
    except (TimeoutError, nats.errors.Error) as exc:
        raise BusError(f"cannot set up stream {address.stream} on {address.display}: {type(exc).__name__}") from None


# -- publishing ---------------------------------------------------------------------------------


class NatsPublisher:
    """Publishes every appended event to JetStream; a Recorder beside (or instead of) the journal."""

    def __init__(
        self,
        address: BusAddress | str,
        instance: str,
        *,
        shard: Shard = ALL,
        settings: StreamSettings = StreamSettings(),
        heartbeat_interval: float = 5.0,
        clock: Clock | None = None,
        max_pending: int = 200_000,
        window: int = 1000,
        ack_timeout: float = 5.0,
        connect_timeout: float = 5.0,
    ) -> None:
        self.address = _address(address)
        self.instance = subject_token(instance)
        self.shard = shard
        self.settings = settings
        self.heartbeat_interval = heartbeat_interval
        self.clock = clock or SystemClock()
        self.max_pending = max_pending
        self.window = window
        self.ack_timeout = ack_timeout
        self.connect_timeout = connect_timeout
        self.ids = MessageIds(self.instance)
        self.published = 0
        """Messages JetStream stored."""
        self.duplicates = 0
        """Messages JetStream recognised as already stored (same id) and dropped."""
        self.dropped = 0
        """Events thrown away because the bus was unreachable for too long (reported on the bus)."""
        self.errors = 0
        self.last_error = ""
        self._pending: deque[tuple[str, bytes, str]] = deque()
        self._inflight = 0
        self._dropped_unreported = 0
        self._first_drop_ts: float | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._progress = asyncio.Event()
        self._stopping = False
        self._client: Client | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._headers_base = {HEADER_INSTANCE: self.instance}
        if shard.count > 1:
            self._headers_base[HEADER_SHARD] = str(shard)

    async def start(self) -> None:
        """Connect, create or update the stream, start publishing and heart-beating."""
        self._client = await connect(
            self.address, name=f"watchfloor collector {self.instance}", timeout=self.connect_timeout
        )
        try:
            await ensure_stream(self._client, self.address, self.settings)
        except BusError:
            await self._client.close()
            raise
        self._tasks = [
            asyncio.create_task(self._pump(), name=f"bus-publish-{self.instance}"),
            asyncio.create_task(self._heartbeats(), name=f"bus-heartbeat-{self.instance}"),
        ]

    # -- the Recorder side ----------------------------------------------------------------------

    def append(self, events: Sequence[Event]) -> None:
        """Queue ``events`` for publication (never blocks; see :attr:`dropped`)."""
        root = self.address.root
        for event in events:
            payload = event_to_json(event).encode()
            self._pending.append((subject_for(event, root), payload, self.ids.next_id(payload, event.ts)))
        overflow = len(self._pending) - self.max_pending
        if overflow > 0:
            if self._first_drop_ts is None:
                self._first_drop_ts = self.clock.now()
            for _ in range(overflow):
                self._pending.popleft()
            self.dropped += overflow
            self._dropped_unreported += overflow
        if self._pending:
            self._idle.clear()
            self._wake.set()

    @property
    def pending(self) -> int:
        """Events queued or awaiting their ack."""
        return len(self._pending) + self._inflight

    async def throttle(self, limit: int | None = None) -> None:
        """Wait while more than ``limit`` events (default: half of ``max_pending``) are pending.

        A collector reading files at full speed calls this between batches, so the bus sets the
        pace instead of the queue overflowing; a live collector never needs to.
        """
        high = self.max_pending // 2 if limit is None else limit
        while self.pending > high and self._tasks:
            self._progress.clear()
            await self._progress.wait()

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything appended so far is acked; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # -- background -----------------------------------------------------------------------------

    async def _pump(self) -> None:
        assert self._client is not None
        js = self._client.jetstream()
        backoff = 0.2
        while not self._stopping:
            if not self._pending:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            chunk = [self._pending.popleft() for _ in range(min(self.window, len(self._pending)))]
            self._inflight = len(chunk)
            try:
                futures = []
                for subject, payload, msg_id in chunk:
                    headers = {**self._headers_base, HEADER_MSG_ID: msg_id}
                    futures.append(await js.publish_async(subject, payload, headers=headers))
                acks = await asyncio.wait_for(asyncio.gather(*futures), self.ack_timeout)
            except (TimeoutError, nats.errors.Error, OSError) as exc:
                for future in futures:
                    future.cancel()
                if _being_cancelled():
                    raise asyncio.CancelledError from None
                # Put the chunk back in front: the retry uses the same ids, so whatever did get
                # stored before the failure is dropped by JetStream as a duplicate.
                self._pending.extendleft(reversed(chunk))
                self._inflight = 0
                self.errors += 1
                self.last_error = _printable(str(exc) or type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.2
            self._inflight = 0
            self._progress.set()
            duplicates = sum(1 for ack in acks if ack.duplicate)
            self.duplicates += duplicates
            self.published += len(acks) - duplicates
            if self._dropped_unreported:
                self._report_drops()

    def _report_drops(self) -> None:
        now = self.clock.now()
        start = self._first_drop_ts if self._first_drop_ts is not None else now
        status = FeedStatus(
            now,
            f"publisher/{self.instance}",
            "up",
            f"{self._dropped_unreported} events dropped while the bus was unreachable",
            gap_start=start,
            gap_end=now,
        )
        self._dropped_unreported = 0
        self._first_drop_ts = None
        self.append([status])

    async def _heartbeats(self) -> None:
        while not self._stopping:
            await self._send_heartbeat("alive")
            await asyncio.sleep(self.heartbeat_interval)

    async def _send_heartbeat(self, state: str) -> None:
        if self._client is None or self._client.is_closed:
            return
        beat = Heartbeat(
            self.instance,
            self.clock.now(),
            self.heartbeat_interval,
            state,
            str(self.shard) if self.shard.count > 1 else "",
            self.published,
            self.dropped,
        )
        try:
            # Plain publish: a heartbeat must not wait behind a backlog of acks, and a lost one
            # is exactly what heartbeats are for.
            await self._client.publish(heartbeat_subject(self.instance, self.address.root), beat.to_json())
        except (nats.errors.Error, OSError) as exc:
            if _being_cancelled():
                raise asyncio.CancelledError from None
            self.errors += 1
            self.last_error = _printable(str(exc) or type(exc).__name__)

    # -- stopping -------------------------------------------------------------------------------

    async def close(self, timeout: float = 10.0) -> None:
        """Publish what is queued (up to ``timeout``), say "stopped", and disconnect."""
        if self._client is None:
            return
        await self.flush(timeout)
        await self._cancel_tasks()
        await self._send_heartbeat("stopped")
        try:
            await self._client.flush(timeout=2)
        except (TimeoutError, nats.errors.Error, OSError):
            pass
        await self._client.close()
        self._client = None

    async def abort(self) -> None:
        """Drop the connection without a word, as a crash would (tests of gap detection)."""
        await self._cancel_tasks()
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _cancel_tasks(self) -> None:
        # A flag as well as cancel(): Python 3.11's wait_for and nats-py's publish_async can each
        # swallow a cancellation, and the loops must end anyway.
        self._stopping = True
        self._wake.set()
        self._progress.set()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: a task stuck in a client call must not hang the collector's shutdown.
            await asyncio.wait(self._tasks, timeout=5.0)
        self._tasks = []

    def stats(self) -> dict[str, Any]:
        """Counters for status lines and tests."""
        return {
            "instance": self.instance,
            "shard": str(self.shard),
            "published": self.published,
            "duplicates": self.duplicates,
            "dropped": self.dropped,
            "pending": self.pending,
            "errors": self.errors,
            "last_error": self.last_error,
        }


# -- following ----------------------------------------------------------------------------------


class NatsFollower:
    """Reads the stream and yields batches of events, with gaps of silent collectors."""

    def __init__(
        self,
        address: BusAddress | str,
        *,
        start: float | None = None,
        new_only: bool = False,
        until: float | None = None,
        subjects: Sequence[str] = (),
        clock: Clock | None = None,
        misses: float = 3.0,
        max_batch: int = 5000,
        idle_check: float = 1.0,
        remember_ids: int = 200_000,
        connect_timeout: float = 5.0,
    ) -> None:
        """``start``: bus time (UTC s) to replay from; None: the whole stream; ``new_only``: only
        what arrives from now on. ``until``: stop after this bus time (a past window)."""
        self.address = _address(address)
        self.start_time = start
        self.new_only = new_only
        self.until = until
        self.subjects = tuple(subjects) or (f"{self.address.root}.>",)
        self.clock = clock or SystemClock()
        self.monitor = HeartbeatMonitor(misses)
        self.max_batch = max_batch
        self.idle_check = idle_check
        self.connect_timeout = connect_timeout
        self.received = 0
        self.duplicates = 0
        """Messages dropped because an identical id was already delivered (beyond JetStream's
        duplicate window, e.g. a collector restarted much later re-publishing)."""
        self.rejected = 0
        self.caught_up = False
        """True once everything stored before now has been delivered."""
        self.finished = False
        self.last_bus_ts: float | None = None
        self._remember = remember_ids
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        self._inbox: list[Msg] = []
        self._local: list[Event] = []
        self._wake = asyncio.Event()
        self._client: Client | None = None
        self._sub: Any = None

    async def start(self) -> None:
        """Connect and subscribe (the stream is created if no collector has yet)."""

        async def disconnected() -> None:
            self._local.append(FeedStatus(self.clock.now(), BUS_FEED, "down", f"lost the bus at {self.address.display}"))
            self._wake.set()

        async def reconnected() -> None:
            self._local.append(FeedStatus(self.clock.now(), BUS_FEED, "up", f"back on the bus at {self.address.display}"))
            self._wake.set()

        self._client = await connect(
            self.address,
            name="watchfloor console",
            timeout=self.connect_timeout,
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
        )
        try:
            await ensure_stream(self._client, self.address, update=False)
            config = api.ConsumerConfig(ack_policy=api.AckPolicy.NONE)
            if self.new_only:
                config.deliver_policy = api.DeliverPolicy.NEW
            elif self.start_time is not None:
                config.deliver_policy = api.DeliverPolicy.BY_START_TIME
                config.opt_start_time = datetime.datetime.fromtimestamp(self.start_time, datetime.UTC)
            else:
                config.deliver_policy = api.DeliverPolicy.ALL
            if len(self.subjects) > 1:
                config.filter_subjects = list(self.subjects)
            self._sub = await self._client.jetstream().subscribe(
                self.subjects[0],
                stream=self.address.stream,
                cb=self._on_message,
                ordered_consumer=True,
                config=config,
                idle_heartbeat=2.0,
            )
            info = await self._sub.consumer_info()
            self.caught_up = info.num_pending == 0
        except BusError:
            await self._client.close()
            raise
        except (TimeoutError, nats.errors.Error) as exc:
            await self._client.close()
            raise BusError(
                f"cannot follow stream {self.address.stream} on {self.address.display}: "
                f"{_printable(str(exc) or type(exc).__name__)}"
            ) from None
        self._local.append(
            FeedStatus(self.clock.now(), BUS_FEED, "up", f"following {self.address.stream} at {self.address.display}")
        )

    async def _on_message(self, msg: Msg) -> None:
        self._inbox.append(msg)
        self._wake.set()

    async def batches(self) -> AsyncIterator[list[Event]]:
        """Batches of events as they arrive, until :meth:`close` (or ``until`` is passed)."""
        while not self.finished:
            if not self._inbox and not self._local:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.idle_check)
                except TimeoutError:
                    pass
            self._wake.clear()
            messages, self._inbox = self._inbox, []
            events, self._local = self._local, []
            last = len(messages) - 1
            for index, msg in enumerate(messages):
                if self.finished:
                    break
                # Reading a message's metadata costs as much as a third of decoding it: only the
                # last of a burst (for num_pending), heartbeats and windows need it.
                events.extend(self._decode(msg, with_meta=index == last or self.until is not None))
            if self.caught_up and not self.finished:
                if self.until is not None and self.clock.now() > self.until:
                    self.finished = True
                else:
                    events.extend(self.monitor.check(self.clock.now()))
            for start in range(0, len(events), self.max_batch):
                yield events[start : start + self.max_batch]

    def _meta(self, msg: Msg) -> tuple[float, int]:
        """(bus time, stream sequence) of ``msg``; updates :attr:`caught_up`."""
        try:
            meta = msg.metadata
            self.caught_up = meta.num_pending == 0
            return meta.timestamp.timestamp(), meta.sequence.stream
        except (nats.errors.NotJSMessageError, AttributeError, ValueError):
            return self.clock.now(), 0

    def _decode(self, msg: Msg, *, with_meta: bool = True) -> list[Event]:
        subject = msg.subject
        heartbeat = instance_of_subject(subject, self.address.root) is not None
        seq = 0
        if with_meta or heartbeat:
            bus_ts, seq = self._meta(msg)
            if self.until is not None and bus_ts > self.until:
                self.finished = True
                return []
            self.last_bus_ts = bus_ts
        self.received += 1
        if heartbeat:
            try:
                return list(self.monitor.observe(Heartbeat.from_json(msg.data), bus_ts))
            except BusError as exc:
                return [self._reject(msg, str(exc))]
        msg_id = (msg.headers or {}).get(HEADER_MSG_ID)
        if msg_id:
            if msg_id in self._seen:
                self.duplicates += 1
                return []
            self._seen.add(msg_id)
            self._seen_order.append(msg_id)
            if len(self._seen_order) > self._remember:
                self._seen.discard(self._seen_order.popleft())
        try:
            data = json.loads(msg.data)
            if not isinstance(data, dict):
                raise EventDecodeError("not a JSON object")
            return [event_from_dict(data)]
        except (ValueError, EventDecodeError) as exc:
            return [self._reject(msg, f"not a Watchfloor event: {exc}")]

    def _reject(self, msg: Msg, reason: str) -> RecordRejected:
        self.rejected += 1
        ts, seq = self._meta(msg)
        location = f"{self.address.stream} #{seq} {_printable(msg.subject, 80)}"
        excerpt = _printable(msg.data[:80].decode("utf-8", "replace"), 80)
        return RecordRejected(ts, BUS_FEED, location, _printable(reason, 200), excerpt)

    async def close(self) -> None:
        """Stop following and disconnect."""
        self.finished = True
        self._wake.set()
        if self._client is not None:
            try:
                if self._sub is not None:
                    await self._sub.unsubscribe()
            except (TimeoutError, nats.errors.Error):
                pass
            await self._client.close()
            self._client = None

    def stats(self) -> dict[str, Any]:
        """Counters for status lines and tests."""
        return {
            "received": self.received,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "caught_up": self.caught_up,
            "instances": {
                name: {"state": s.state, "shard": s.shard, "gaps": s.gaps, "published": s.published, "dropped": s.dropped}
                for name, s in self.monitor.instances.items()
            },
        }
