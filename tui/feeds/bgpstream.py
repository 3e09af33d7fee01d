"""BGPStream: the public MRT archives (RIS, RouteViews) for any past window.

Two backends give the same events:

- **broker** (always available): the BGPStream broker HTTP API (SPECS.md C.2) lists the dump
  files of the window; httpx downloads them, streaming, into an on-disk cache, resuming an
  interrupted download from its ``.part`` file with an HTTP ``Range`` request; the MRT reader
  (:mod:`tui.feeds.mrt`) parses them.
- **pybgpstream** (the optional extra ``watchfloor[bgpstream]``, which needs CAIDA's C library
  libbgpstream): its elements are turned into the same core events and written to a journal
  in the cache, which replay reads like any journal.

:func:`fetch_window` returns the files to replay, either way. For a window ``[start, until]``
it asks for update dumps overlapping the window and, per collector, the last RIB dump at or
before ``start`` (looking back :data:`RIB_LOOKBACK`), so the replay starts from a full table.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import unquote, urlsplit

import httpx

from tui.config import default_cache_dir
from tui.core.aspath import ASPathError, parse_path
from tui.core.clock import format_duration, format_time
from tui.core.events import (
    Event,
    PeerStateChanged,
    RecordRejected,
    RouteAnnounced,
    RouteWithdrawn,
)
from tui.core.prefixes import Prefix, PrefixError
from tui.feeds.http import (
    RETRYABLE_STATUS,
    USER_AGENT,
    Backoff,
    FeedError,
    retry_after_seconds,
    safe_url,
)
from tui.feeds.ris_messages import excerpt

if TYPE_CHECKING:
    from tui.core.watchlist import Watchlist

__all__ = [
    "BgpstreamError",
    "BackendError",
    "JournalWrite",
    "DumpFile",
    "Progress",
    "TextProgress",
    "RIB_LOOKBACK",
    "INSTALL_HINT",
    "broker_params",
    "parse_broker_response",
    "select_dumps",
    "list_dumps",
    "cache_path",
    "download",
    "fetch_window",
    "pybgpstream_available",
    "elem_to_events",
    "events_from_pybgpstream",
]

FEED = "bgpstream"

RIB_LOOKBACK = 8 * 3600.0
"""How far before the window a RIB dump is looked for (RIS dumps every 8 h, RouteViews every 2 h)."""

MAX_PAGES = 100
"""Broker pages followed at most: a safety net against a broker that never says it is done."""

INSTALL_HINT = (
    "pybgpstream is not installed. It is the optional extra `pip install 'watchfloor[bgpstream]'`, "
    "and it needs CAIDA's C library libbgpstream (with libparsebgp and wandio) built and installed "
    "first: see https://bgpstream.caida.org/docs/install/bgpstream. Without it, leave out "
    "--bgpstream-backend (or use `--bgpstream-backend broker`): the broker backend downloads the "
    "same MRT files over HTTP."
)


class BgpstreamError(FeedError):
    """The broker, a download or pybgpstream failed; the message says what, where and what to do."""


class BackendError(BgpstreamError):
    """The backend asked for cannot be used: unknown, or pybgpstream is not installed."""


JournalWrite = Callable[[Path, Iterable[list[Event]]], None]
"""Writes event batches into a new journal at a path: what the pybgpstream backend keeps its
window in. Injected (the journal layer sits above the feeds): see :func:`fetch_window`."""


@dataclass(frozen=True, slots=True)
class DumpFile:
    """One dump file the broker listed."""

    url: str
    project: str
    collector: str
    type: str
    """``ribs`` or ``updates``."""
    initial_time: float
    duration: float
    format: str = "mrt"
    transport: str = "http"

    @property
    def end_time(self) -> float:
        """When the data in the file ends."""
        return self.initial_time + self.duration


Progress = Callable[[str, int, "int | None"], None]
"""``progress(name, bytes_done, bytes_total_or_None)``, called as a download advances."""


# -- the broker (pure parts) ------------------------------------------------------------------------


def broker_params(
    start: float,
    until: float,
    collectors: Sequence[str] = (),
    *,
    types: Sequence[str] = ("ribs", "updates"),
    projects: Sequence[str] = (),
    data_added_since: float | None = None,
    min_initial_time: float | None = None,
) -> list[tuple[str, str]]:
    """The query of ``GET <broker>/data`` (repeated ``name[]`` parameters, as libbgpstream sends)."""
    params = [("projects[]", p) for p in projects]
    params += [("collectors[]", c) for c in collectors]
    params += [("types[]", t) for t in types]
    params.append(("intervals[]", f"{int(start)},{int(until)}"))
    if data_added_since is not None:
        params.append(("dataAddedSince", str(int(data_added_since))))
    if min_initial_time is not None:
        params.append(("minInitialTime", str(int(min_initial_time))))
    return params


def parse_broker_response(body: object) -> tuple[float, list[DumpFile]]:
    """(response ``time``, dump files) of one broker answer; raises :class:`BgpstreamError`."""
    if not isinstance(body, dict):
        raise BgpstreamError("broker answer is not a JSON object")
    if body.get("error"):
        raise BgpstreamError(f"broker reported an error: {excerpt(str(body['error']), 300)}")
    try:
        when = float(body["time"])
    except (KeyError, TypeError, ValueError):
        raise BgpstreamError("broker answer has no time") from None
    data = body.get("data") or {}
    resources = data.get("resources") if isinstance(data, dict) else None
    if resources is None:
        resources = data.get("dumpFiles", []) if isinstance(data, dict) else []
    if not isinstance(resources, list):
        raise BgpstreamError("broker answer: data.resources is not a list")
    dumps = []
    for item in resources:
        try:
            dumps.append(
                DumpFile(
                    url=str(item["url"]),
                    project=str(item["project"]),
                    collector=str(item["collector"]),
                    type=str(item["type"]),
                    initial_time=float(item["initialTime"]),
                    duration=float(item["duration"]),
                    format=str(item.get("format", "mrt")),
                    transport=str(item.get("transport", "http")),
                )
            )
        except (KeyError, TypeError, ValueError):
            raise BgpstreamError(f"broker answer: incomplete resource {excerpt(repr(item), 120)}") from None
    return when, dumps


def select_dumps(dumps: Iterable[DumpFile], start: float, until: float) -> list[DumpFile]:
    """The files a replay of ``[start, until]`` needs, in time order.

    Updates overlapping the window; per collector, the last RIB starting at or before ``start``
    (later RIBs add nothing the updates do not say). Non-MRT and non-HTTP resources (Kafka,
    RIS Live streams) are left out: they are live feeds, not archives.
    """
    unique = {d.url: d for d in dumps if d.format == "mrt" and d.transport in ("http", "file", "https")}
    chosen: list[DumpFile] = []
    ribs: dict[str, DumpFile] = {}
    for dump in unique.values():
        if dump.type == "updates":
            if dump.initial_time <= until and dump.end_time >= start:
                chosen.append(dump)
        elif dump.type == "ribs" and dump.initial_time <= start:
            best = ribs.get(dump.collector)
            if best is None or dump.initial_time > best.initial_time:
                ribs[dump.collector] = dump
    chosen.extend(ribs.values())
    # RIB first within a collector at the same time: the MRT reader merges by timestamp anyway.
    return sorted(chosen, key=lambda d: (d.initial_time, d.type != "ribs", d.collector, d.url))


# -- the broker (I/O) -------------------------------------------------------------------------------


def _get(
    client: httpx.Client,
    url: str,
    params: Any,
    *,
    backoff: Backoff,
    attempts: int,
    sleep: Callable[[float], None],
    rand: Callable[[], float],
) -> httpx.Response:
    problem = ""
    for attempt in range(attempts):
        wait = backoff.delay(attempt, rand)
        try:
            response = client.get(url, params=params)
        except httpx.TransportError as exc:
            problem = f"cannot reach the broker ({type(exc).__name__}: {exc})"
        else:
            if response.status_code not in RETRYABLE_STATUS:
                return response
            problem = f"HTTP {response.status_code} {response.reason_phrase}"
            asked = retry_after_seconds(response.headers.get("retry-after"), time.time())
            if asked is not None:
                wait = max(wait, min(asked, 300.0))
        if attempt + 1 < attempts:
            sleep(wait)
    raise BgpstreamError(f"{safe_url(url)}: {problem} (after {attempts} tries); check feeds.bgpstream.broker")


def list_dumps(
    client: httpx.Client,
    broker_url: str,
    start: float,
    until: float,
    collectors: Sequence[str] = (),
    *,
    rib_lookback: float = RIB_LOOKBACK,
    backoff: Backoff = Backoff(initial=1.0, maximum=30.0),
    attempts: int = 4,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
) -> list[DumpFile]:
    """Every dump file the broker lists for the window (with the RIB look-back), all pages.

    Paging as libbgpstream does it: ask again with ``dataAddedSince`` = the last answer's time
    and ``minInitialTime`` = the furthest file end seen, until an answer adds nothing new.
    """
    url = broker_url.rstrip("/") + "/data"
    found: dict[str, DumpFile] = {}
    added_since: float | None = None
    min_initial: float | None = None
    for _ in range(MAX_PAGES):
        params = broker_params(
            start - rib_lookback, until, collectors, data_added_since=added_since, min_initial_time=min_initial
        )
        response = _get(client, url, params, backoff=backoff, attempts=attempts, sleep=sleep, rand=rand)
        if response.status_code != 200:
            raise BgpstreamError(
                f"{safe_url(url)}: HTTP {response.status_code} {response.reason_phrase}; check feeds.bgpstream.broker"
            )
        try:
            body = response.json()
        except ValueError:
            raise BgpstreamError(f"{safe_url(url)}: answer is not JSON: {excerpt(response.text, 80)}") from None
        when, dumps = parse_broker_response(body)
        new = [d for d in dumps if d.url not in found]
        for dump in new:
            found[dump.url] = dump
        if not new:
            break
        added_since = when
        furthest = max(d.end_time for d in new)
        min_initial = furthest if min_initial is None else max(min_initial, furthest)
        if min_initial >= until:
            break
    return list(found.values())


_SAFE = re.compile(r"[^A-Za-z0-9._+-]")


def cache_path(cache_dir: str | os.PathLike[str], dump: DumpFile) -> Path:
    """Where ``dump`` is kept: ``<cache>/<project>/<collector>/<file name>``.

    The collector folder is also how the MRT reader names the collector of the file.
    """
    name = unquote(Path(urlsplit(dump.url).path).name) or hashlib.sha256(dump.url.encode()).hexdigest()[:16]
    return Path(cache_dir) / _SAFE.sub("_", dump.project or "unknown") / _SAFE.sub("_", dump.collector) / _SAFE.sub("_", name)


def download(
    client: httpx.Client,
    url: str,
    dest: Path,
    *,
    progress: Progress | None = None,
) -> Path:
    """Download ``url`` to ``dest`` (kept as ``dest.part`` until complete), resuming a ``.part``.

    A complete ``dest`` is reused as it is. Raises :class:`BgpstreamError` when the download
    stops early; the ``.part`` stays, and the next call continues from where it ended.
    """
    if dest.exists():
        if progress is not None:
            size = dest.stat().st_size
            progress(dest.name, size, size)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    done = offset
    total: int | None = None
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 416 and offset:
                # The .part already holds everything the server has.
                total = _total_from_content_range(response.headers.get("content-range"))
                if total is None or total == offset:
                    os.replace(part, dest)
                    return dest
                part.unlink()
                raise BgpstreamError(f"{safe_url(url)}: server refused to resume at byte {offset}; will start over")
            if response.status_code == 206:
                first = _first_from_content_range(response.headers.get("content-range"))
                if first != offset:
                    raise BgpstreamError(f"{safe_url(url)}: server resumed at byte {first}, not {offset}")
                total = _total_from_content_range(response.headers.get("content-range"))
                mode = "ab"
            elif response.status_code == 200:
                # The server ignored the Range (or there was none): start from the beginning.
                done, mode = 0, "wb"
                length = response.headers.get("content-length")
                total = int(length) if length and length.isdigit() else None
            else:
                raise BgpstreamError(f"{safe_url(url)}: HTTP {response.status_code} {response.reason_phrase}")
            with open(part, mode) as handle:
                # Raw bytes, as they arrive: byte offsets must match the server's for Range, and
                # a short read must still land in the .part before the error surfaces.
                for chunk in response.iter_raw():
                    handle.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(dest.name, done, total)
    except httpx.TransportError as exc:
        raise BgpstreamError(
            f"{safe_url(url)}: download interrupted at byte {done} ({type(exc).__name__}); it resumes from there next time"
        ) from None
    if total is not None and done != total:
        raise BgpstreamError(f"{safe_url(url)}: got {done} of {total} bytes; it resumes from there next time")
    os.replace(part, dest)
    return dest


def _first_from_content_range(value: str | None) -> int | None:
    m = re.match(r"bytes (\d+)-\d+/(\d+|\*)", value or "")
    return int(m.group(1)) if m else None


def _total_from_content_range(value: str | None) -> int | None:
    m = re.match(r"bytes (?:\d+-\d+|\*)/(\d+)", value or "")
    return int(m.group(1)) if m else None


class TextProgress:
    """A progress bar on a terminal (one line per file when not a terminal)."""

    def __init__(self, out: TextIO | None = None, *, width: int = 24) -> None:
        self.out = out or sys.stderr
        self.width = width
        self.tty = bool(getattr(self.out, "isatty", lambda: False)())
        self._last: tuple[str, int] | None = None

    def __call__(self, name: str, done: int, total: int | None) -> None:
        """Draw (or, off a terminal, report a finished file once)."""
        shown = excerpt(name, 60)
        if not self.tty:
            if total is not None and done >= total and self._last != (name, total):
                self._last = (name, total)
                self.out.write(f"downloaded {shown} ({_size(total)})\n")
                self.out.flush()
            return
        if total:
            filled = int(self.width * min(done, total) / total)
            bar = "#" * filled + "." * (self.width - filled)
            line = f"\r{shown} [{bar}] {100 * done // total:3d}% {_size(done)}/{_size(total)}"
        else:
            line = f"\r{shown} {_size(done)}"
        self.out.write(line + ("\n" if total and done >= total else ""))
        self.out.flush()


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


# -- pybgpstream ------------------------------------------------------------------------------------


def pybgpstream_available() -> bool:
    """True when ``import pybgpstream`` works (the C library is there too)."""
    try:
        import pybgpstream  # noqa: F401 - optional: only asked whether it is there
    except ImportError:
        return False
    return True


def elem_to_events(elem: Any, *, source: str = FEED) -> list[Event]:
    """Core events for one pybgpstream ``BGPElem`` (types R/A, W, S; others give nothing).

    Uses only the documented attributes (``type``, ``time``, ``collector``, ``peer_address``,
    ``peer_asn``, ``fields``); a bad element becomes a :class:`RecordRejected`.
    """
    kind = str(getattr(elem, "type", ""))
    ts = float(getattr(elem, "time", 0.0) or 0.0)
    collector = str(getattr(elem, "collector", "") or "")
    fields = getattr(elem, "fields", {}) or {}
    try:
        peer_ip = str(elem.peer_address)
        peer_asn = int(elem.peer_asn)
        if kind in ("R", "A"):
            prefix = Prefix.parse(str(fields["prefix"]))
            path = parse_path(str(fields.get("as-path", "")))
            communities = tuple(sorted(str(c) for c in fields.get("communities", ()) or ()))
            return [RouteAnnounced(ts, collector, peer_ip, peer_asn, prefix, path,
                                   str(fields.get("next-hop", "") or ""), communities, source)]
        if kind == "W":
            return [RouteWithdrawn(ts, collector, peer_ip, peer_asn, Prefix.parse(str(fields["prefix"])), source)]
        if kind == "S":
            return [PeerStateChanged(ts, collector, peer_ip, peer_asn, str(fields.get("old-state", "")).upper(),
                                     str(fields.get("new-state", "")).upper(), source)]
    except (KeyError, TypeError, ValueError, AttributeError, PrefixError, ASPathError) as exc:
        return [RecordRejected(ts, source, f"{collector or 'pybgpstream'} element at {ts:.0f}",
                               f"unreadable element: {exc}", excerpt(repr(elem)))]
    return []


def events_from_pybgpstream(
    start: float,
    until: float,
    collectors: Sequence[str] = (),
    *,
    watchlist: Watchlist | None = None,
    stream_factory: Callable[..., Iterable[Any]] | None = None,
    batch_size: int = 1000,
) -> Iterator[list[Event]]:
    """Event batches from pybgpstream for the window (a prefix filter when a watchlist is given)."""
    if stream_factory is None:
        try:
            import pybgpstream  # optional: the extra watchfloor[bgpstream], with its C library
        except ImportError:
            raise BackendError(INSTALL_HINT) from None
        stream_factory = pybgpstream.BGPStream
    kwargs: dict[str, Any] = {"from_time": int(start), "until_time": int(until), "record_types": ["ribs", "updates"]}
    if collectors:
        kwargs["collectors"] = list(collectors)
    if watchlist is not None:
        prefixes = [str(p) for p in watchlist.prefixes()]
        if prefixes:
            # "any": equal, more- and less-specific, as the MRT reader's watch filter keeps them.
            kwargs["filter"] = "prefix any " + " ".join(prefixes)
    batch: list[Event] = []
    for elem in stream_factory(**kwargs):
        batch.extend(elem_to_events(elem))
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _pybgpstream_journal(
    start: float, until: float, collectors: Sequence[str], cache_dir: Path, watchlist: Watchlist | None,
    write_journal: JournalWrite, stream_factory: Callable[..., Iterable[Any]] | None = None,
) -> Path:
    key = hashlib.sha256(
        repr((int(start), int(until), sorted(collectors), [str(p) for p in (watchlist.prefixes() if watchlist else [])])).encode()
    ).hexdigest()[:16]
    dest = cache_dir / "pybgpstream" / f"window-{int(start)}-{int(until)}-{key}.journal"
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    if part.exists():
        part.unlink()
    write_journal(part, events_from_pybgpstream(start, until, collectors, watchlist=watchlist, stream_factory=stream_factory))
    os.replace(part, dest)
    return dest


# -- the one entry point ----------------------------------------------------------------------------


def fetch_window(
    start: float,
    until: float,
    collectors: Sequence[str] = (),
    *,
    broker_url: str = "https://broker.bgpstream.caida.org/v2/",
    cache_dir: str | os.PathLike[str] | None = None,
    client: httpx.Client | None = None,
    progress: Progress | None = None,
    backend: str = "auto",
    watchlist: Watchlist | None = None,
    attempts: int = 4,
    backoff: Backoff = Backoff(initial=1.0, maximum=30.0),
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
    log: Callable[[str], None] | None = None,
    write_journal: JournalWrite | None = None,
) -> list[Path]:
    """The local files holding ``[start, until]`` for ``collectors`` (all when empty).

    ``backend``: ``auto`` (pybgpstream when importable and ``write_journal`` is given, else the
    broker), ``broker`` or ``pybgpstream`` (a :class:`BackendError` with install instructions
    when it is missing). pybgpstream's events are kept in a journal in the cache, written by
    ``write_journal``. Downloads are retried ``attempts`` times, each retry resuming where the
    last one stopped.
    """
    if until < start:
        raise BgpstreamError("the window ends before it starts (--until is before --from)")
    if cache_dir is None:
        cache_dir = default_cache_dir() / "bgpstream"
    cache = Path(cache_dir)
    if backend not in ("auto", "broker", "pybgpstream"):
        raise BackendError(f"unknown BGPStream backend {backend!r}: use auto, broker or pybgpstream")
    if backend == "pybgpstream" or (backend == "auto" and write_journal is not None and pybgpstream_available()):
        if not pybgpstream_available():
            raise BackendError(INSTALL_HINT)
        if write_journal is None:
            raise BackendError("the pybgpstream backend keeps its window in a journal: give write_journal")
        return [_pybgpstream_journal(start, until, collectors, cache, watchlist, write_journal)]

    own = client is None
    http = client or httpx.Client(headers={"User-Agent": USER_AGENT}, timeout=httpx.Timeout(60.0), follow_redirects=True)
    try:
        dumps = list_dumps(http, broker_url, start, until, collectors, backoff=backoff, attempts=attempts, sleep=sleep, rand=rand)
        chosen = select_dumps(dumps, start, until)
        if not chosen:
            wanted = ", ".join(collectors) or "any collector"
            raise BgpstreamError(
                f"the broker lists no MRT dumps for {wanted} between {format_time(start)} and {format_time(until)}; "
                "check the collector names (e.g. rrc00, route-views2) and the window"
            )
        if log is not None:
            ribs = sum(d.type == "ribs" for d in chosen)
            log(f"{len(chosen)} dump files ({ribs} RIB, {len(chosen) - ribs} updates) from {safe_url(broker_url)}")
        paths = []
        for dump in chosen:
            dest = cache_path(cache, dump)
            for attempt in range(attempts):
                try:
                    paths.append(download(http, dump.url, dest, progress=progress))
                    break
                except BgpstreamError as exc:
                    if attempt + 1 >= attempts:
                        raise
                    wait = backoff.delay(attempt, rand)
                    if log is not None:
                        log(f"{exc}; retrying in {format_duration(wait) if wait >= 1 else f'{wait:.1f}s'}")
                    sleep(wait)
        return paths
    finally:
        if own:
            http.close()
