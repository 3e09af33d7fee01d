"""``watchfloor snapshot``: the state of the watched prefixes at one moment, as a table or JSON."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

from tui.commands import Outcome, UsageError, add_config_argument
from tui.config import load_config
from tui.core.aspath import format_origin, format_path, origin_of
from tui.core.clock import FixedClock, TimeFormatError, format_time, parse_time
from tui.core.engine import Engine
from tui.core.prefixes import Prefix, PrefixError, wire_keys_text
from tui.core.watchlist import Watch, Watchlist

__all__ = ["register", "run", "snapshot_data", "below_warning", "render_table", "plain", "load_watchlist", "time_argument"]

EPILOG = """\
SOURCE is an MRT file (plain, .gz or .bz2), a RIS Live capture (one JSON object per line) or a
watchfloor journal; the kind is read from the content, not the name. Several SOURCEs are merged
in time order.

With --live SECONDS instead of SOURCE: listen to RIS Live for SECONDS while the initial state
(full-feed peers, current routes, ASN and country expansion) is asked from RIPEstat, and print
after about SECONDS. RIPEstat is waited for at most --initial-wait SECONDS (default: the
listening time, counted from the start); whatever had not arrived by then is named in the
output ("initial state from ripestat incomplete: ...", and initial_state in the JSON), and the
routes RIS Live reported still count.

examples:
  watchfloor snapshot updates.et-header.2015.gz
  watchfloor snapshot --json bview.20141222.0000.gz updates.20141222.*.gz
  watchfloor snapshot --watch 175.45.176.0/22 --at 2014-12-22T16:00:00Z my.journal
  watchfloor snapshot --at 1445565700 --json capture.ndjson | jq '.prefixes[].visibility'
  watchfloor snapshot --live 15 --watch 193.0.0.0/21
  watchfloor snapshot --live 15 --initial-wait 120 --json | jq .initial_state

exit codes: 0 all watched prefixes at or above their warning threshold (or unknowable),
1 a watched prefix below its visibility_warn threshold, 3 bad usage or config,
4 a SOURCE could not be read.
"""


def register(subparsers: Any) -> None:
    """Add the ``snapshot`` sub-command."""
    parser = subparsers.add_parser(
        "snapshot",
        help="print the state of the watched prefixes at a time",
        description="Print the state of the watched prefixes at TIME (default: the end of the data): "
        "visibility, origins, every route to each prefix, and more-specifics.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("sources", nargs="*", metavar="SOURCE", help="MRT file, RIS Live capture or journal (or use --live)")
    parser.add_argument(
        "--live", type=float, metavar="SECONDS",
        help="no SOURCE: listen to RIS Live for SECONDS while the initial state is asked from RIPEstat, then print",
    )
    parser.add_argument("--ris-live-url", metavar="URL", help="with --live: RIS Live websocket URL (default feeds.ris_live.url)")
    parser.add_argument(
        "--initial-wait", type=float, metavar="SECONDS",
        help="with --live: wait up to SECONDS from the start for RIPEstat's initial state, even past "
        "the listening time (default: the listening time)",
    )
    add_watch_argument(parser)
    add_config_argument(parser)
    parser.add_argument("--at", metavar="TIME", help="ISO 8601 (2015-10-23T02:01:30Z) or unix seconds; default: end of data")
    parser.add_argument("--json", action="store_true", help="print one JSON object (format in docs/cli.md)")
    parser.set_defaults(func=run)


def add_watch_argument(parser: argparse.ArgumentParser) -> None:
    """``--watch PREFIX`` (repeatable, replaces the configured watchlist) and ``--all``."""
    parser.add_argument(
        "--watch",
        action="append",
        metavar="PREFIX",
        default=[],
        help="watch this prefix (repeatable); when given, replaces the configured watchlist",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="also watch the whole table (0.0.0.0/0 and ::/0): every route is kept and listed, "
        "only the other watches are judged (README: whole-table mode)",
    )


WHOLE_TABLE = Watch("whole table", (Prefix(4, 0, 0), Prefix(6, 0, 0)))
"""What ``--all`` adds: both whole tables, as a watch of its own."""


def load_watchlist(args: argparse.Namespace) -> tuple[Watchlist, Any]:
    """The watchlist for a command: ``--watch`` prefixes, else the config's watches (plus the
    whole table with ``--all``); and the config."""
    config = load_config(getattr(args, "config", None))
    whole = [WHOLE_TABLE] if getattr(args, "all", False) else []
    if args.watch:
        prefixes = []
        for text in args.watch:
            try:
                prefixes.append(Prefix.parse(text, strict=True))
            except PrefixError as exc:
                raise UsageError(f"--watch: {exc}; write a network address with its length, e.g. 192.0.2.0/24") from None
        return Watchlist([Watch("ad hoc", tuple(dict.fromkeys(prefixes))), *whole]), config
    if whole:
        return Watchlist([*config.watches, *whole]), config
    return config.watchlist(), config


def time_argument(text: str | None, option: str) -> float | None:
    """Parse a TIME option; a bad one is a usage error (exit 3)."""
    if text is None:
        return None
    try:
        return parse_time(text)
    except TimeFormatError as exc:
        raise UsageError(f"{option}: {exc}") from None


def plain(text: str) -> str:
    """Untrusted text made safe for a terminal: control and format characters become escapes."""
    if text.isprintable():
        return text
    return "".join(
        ch
        if ch.isprintable() or ch == " "
        else (ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch)[0] == "C" else ch)
        for ch in text
    )


def _origin_json(origin: int | tuple[int, ...] | None) -> int | list[int] | None:
    return list(origin) if isinstance(origin, tuple) else origin


def _origins(origins: Iterable[int | tuple[int, ...] | None]) -> list[int | list[int]]:
    """Distinct origins: ASNs in order, then AS_SET origins as lists."""
    if isinstance(origins, tuple) and len(origins) == 1:
        (only,) = origins  # most prefixes of a table: one origin
        return [] if only is None else [list(only) if isinstance(only, tuple) else only]
    found = set(origins)
    ints = sorted(o for o in found if isinstance(o, int))
    sets = sorted(list(o) for o in found if isinstance(o, tuple))
    return [*ints, *sets]


def snapshot_data(engine: Engine, at: float | None, initial_state: Any = None) -> dict[str, Any]:
    """The ``snapshot --json`` object for the engine's current state (format: docs/cli.md).

    ``initial_state`` (a :class:`tui.feeds.live.InitialState`, with ``--live``) adds the
    ``initial_state`` member, and says in the basis when RIPEstat's full-feed list is missing.
    """
    state = engine.state
    full, basis = state.full_feed_peers()
    up = state.peers_up()
    unknown = sum(1 for p in state.peers() if p.status == "unknown")
    prefixes = []
    inside = state.more_specifics_of_each(e.prefix for e in engine.watchlist.entries() if e.prefix.length)
    for entry in engine.watchlist.entries():
        vis = state.visibility(entry.prefix)
        held = sorted(state.routes_to(entry.prefix), key=lambda pr: (pr[0].key.collector, pr[0].key.peer_ip, pr[0].key.peer_asn))
        routes = [
            {
                "collector": info.key.collector,
                "peer_ip": info.key.peer_ip,
                "peer_asn": info.key.peer_asn,
                "as_path": format_path(route.as_path),
                "origin": _origin_json(origin_of(route.as_path)),
                "since": format_time(route.since, precise=True),
            }
            for info, route in held
        ]
        origins = _origins(origin_of(route.as_path) for _, route in held)
        more: list[dict[str, Any]] | TableListing
        table: dict[str, int] | None = None
        if entry.prefix.length == 0:
            more = TableListing(state, entry.prefix.version)
            count, routes_held, holding = state.table_size(entry.prefix.version)
            table = {"prefixes": count, "routes": routes_held, "sessions": holding}
        else:
            counted = state.full_feed_set(entry.prefix.version)
            more = [
                {
                    "prefix": str(other),
                    "visible_peers": sum(1 for info, _ in pairs if info.key in counted),
                    "origins": _origins(route.origin for _, route in pairs),
                }
                for other, pairs in sorted(inside[entry.prefix].items(), key=lambda kv: kv[0].sort_key())
            ]
        item = (
            {
                "prefix": str(entry.prefix),
                "watch": entry.watch,
                "visible_peers": vis.visible,
                "full_feed_peers": vis.full_feed,
                "visibility": vis.ratio,
                "unknown_peers": vis.unknown,
                "origins": origins,
                "routes": routes,
                "more_specifics": more,
            }
        )
        if table is not None:
            item["table"] = table
        prefixes.append(item)
    if initial_state is not None and not initial_state.full_feed_list:
        # Without RIPEstat's list the denominator is whoever RIS Live happened to hear from.
        basis = f"{basis or 'no sessions'}; RIPEstat full-feed peer list missing"
    data = {
        "at": None if at is None else format_time(at, precise=True),
        "peers": {"up": len(up), "full_feed": len(full), "unknown": unknown, "full_feed_basis": basis},
        "prefixes": prefixes,
        "feeds": {
            name: {"state": h.state, "messages": h.messages, "rejected": h.rejected, "gaps": h.gaps, "detail": h.detail}
            for name, h in sorted(engine.feeds.items())
        },
    }
    if initial_state is not None:
        data["initial_state"] = initial_state.as_json()
    return data


class TableListing:
    """The more-specifics of a whole-table watch (``0.0.0.0/0``, ``::/0``): every prefix held.

    Hundreds of thousands of entries: they are written as they are read from the route table
    (:meth:`json_lines`, :meth:`text_lines`), never built as a list of objects. Iterating gives
    the same entries as dicts, for callers that want them.
    """

    def __init__(self, state: Any, version: int) -> None:
        self.state = state
        self.version = version

    def _columns(self) -> tuple[list[str], list[Any], dict[int, tuple[int, list[int | list[int]]]]]:
        """Prefix texts, the table's cells, and each distinct cell (by id) as (visible, JSON origins)."""
        version = self.version
        keys, cells, distinct = self.state.table_rows(version)
        if keys and keys[0] == Prefix(version, 0, 0).wire_key:
            # The default route is the watched prefix itself, not inside it.
            keys, cells = keys[1:], cells[1:]
        shown = {key: (cell[0], _origins(cell[1])) for key, cell in distinct.items()}
        return wire_keys_text(version, keys), cells, shown

    def __iter__(self) -> Iterator[dict[str, Any]]:
        texts, cells, shown = self._columns()
        for text, cell in zip(texts, cells, strict=True):
            visible, origins = shown[id(cell)]
            yield {"prefix": text, "visible_peers": visible, "origins": origins}

    def json_items(self) -> tuple[Iterator[str], str]:
        """Every prefix as compact JSON but for a lead-in all share, and that lead-in.

        Each item is ``'PREFIX", "visible_peers": N, "origins": [...]}'``; the writer puts
        ``LEAD`` (``'{"prefix": "'``) before each. Built with ``map`` alone, no code per prefix.
        """
        texts, cells, shown = self._columns()
        tails = {
            key: f'", "visible_peers": {visible}, "origins": {_json_origins(origins)}}}'
            for key, (visible, origins) in shown.items()
        }
        return map(str.__add__, texts, map(tails.__getitem__, map(id, cells))), '{"prefix": "'

    def text_lines(self) -> Iterator[str]:
        """The table form's more-specific lines."""
        for entry in self:
            shown = " ".join(_origin_text(o) for o in entry["origins"]) or "-"
            yield f"    more-specific {entry['prefix']}: {entry['visible_peers']} peers, origin {shown}"


def _json_origins(origins: list[int | list[int]]) -> str:
    """``json.dumps(origins)``, for the plain lists of ints a whole table has by the hundred thousand."""
    return "[" + ", ".join(str(o) if isinstance(o, int) else "[" + ", ".join(map(str, o)) + "]" for o in origins) + "]"


def write_json(data: dict[str, Any], out: TextIO) -> None:
    """``snapshot --json``: ``data`` as indented JSON, with whole-table listings streamed into it."""
    token = os.urandom(16).hex()  # marks where the streamed listings go; never in real data
    listings: list[TableListing] = []

    def placeholder(value: Any) -> Any:
        if isinstance(value, TableListing):
            listings.append(value)
            return f"{token}:{len(listings) - 1}"
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")

    text = json.dumps(data, indent=2, default=placeholder)
    for index, listing in enumerate(listings):
        before, _, text = text.partition(f'"{token}:{index}"')
        out.write(before)
        last_line = before[before.rfind("\n") + 1 :]
        items, lead = listing.json_items()
        _write_array(out, items, len(last_line) - len(last_line.lstrip(" ")), lead)
    out.write(text)
    out.write("\n")


def _write_array(out: TextIO, items: Iterable[str], depth: int, lead: str = "", chunk: int = 8192) -> None:
    """A JSON array of ``lead + item`` for each pre-encoded item, laid out as ``json.dumps(indent=2)``
    would at ``depth``."""
    opening = "[\n" + " " * (depth + 2) + lead
    separator = ",\n" + " " * (depth + 2) + lead
    source = iter(items)
    written = False
    while block := list(itertools.islice(source, chunk)):
        out.write((separator if written else opening) + separator.join(block))
        written = True
    out.write(("\n" + " " * depth + "]") if written else "[]")


def below_warning(data: dict[str, Any], watchlist: Watchlist) -> list[dict[str, Any]]:
    """Prefix objects whose visibility is known and below their watch's ``visibility_warn``."""
    return [
        p for p in data["prefixes"]
        if p["visibility"] is not None and "table" not in p
        and p["visibility"] < watchlist.thresholds(p["watch"]).visibility_warn
    ]


def render_table(data: dict[str, Any], watchlist: Watchlist, out: TextIO) -> None:
    """The readable form of a snapshot."""
    peers = data["peers"]
    print(
        f"Snapshot at {data['at'] or '(no data)'}: {peers['up']} sessions up, {peers['full_feed']} full-feed "
        f"({plain(peers['full_feed_basis'] or 'none')}), {peers['unknown']} unknown",
        file=out,
    )
    rows = [("WATCH", "PREFIX", "VISIBLE", "SHARE", "STATUS", "ORIGINS")]
    details: list[Iterable[str]] = []
    for p in data["prefixes"]:
        if "table" in p:
            # A whole-table watch: what is in the table, not how visible the default route is.
            table = p["table"]
            rows.append((plain(p["watch"]), p["prefix"], f"{table['sessions']} sessions", "-", "table",
                         f"{table['prefixes']} prefixes, {table['routes']} routes"))
            details.append(p["more_specifics"].text_lines() if isinstance(p["more_specifics"], TableListing) else ())
            continue
        thresholds = watchlist.thresholds(p["watch"])
        share = p["visibility"]
        if share is None:
            status, shown = "unknown", "-"
        else:
            shown = f"{share * 100:.0f}%"
            if share < thresholds.visibility_critical:
                status = "critical"
            elif share < thresholds.visibility_warn:
                status = "warning"
            else:
                status = "ok"
        origins = " ".join(_origin_text(o) for o in p["origins"]) or "-"
        rows.append((plain(p["watch"]), p["prefix"], f"{p['visible_peers']}/{p['full_feed_peers']}", shown, status, origins))
        if isinstance(p["more_specifics"], TableListing):
            details.append(p["more_specifics"].text_lines())
            continue
        lines = []
        for ms in p["more_specifics"]:
            ms_origins = " ".join(_origin_text(o) for o in ms["origins"]) or "-"
            lines.append(f"    more-specific {ms['prefix']}: {ms['visible_peers']} peers, origin {ms_origins}")
        details.append(lines)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), file=out)
        if index:
            for line in details[index - 1]:
                print(line, file=out)
    for name, feed in data.get("feeds", {}).items():
        truncated = "truncated" in feed.get("detail", "")
        if feed["rejected"] or feed["gaps"] or truncated:
            line = f"feed {plain(name)}: {feed['rejected']} bad records, {feed['gaps']} gaps"
            if truncated:
                line += f"; {plain(feed['detail'])}"
            print(line, file=out)
    initial = data.get("initial_state")
    if initial is not None and not initial["complete"]:
        print(f"initial state from {plain(initial['source'])} incomplete: missing {plain(', '.join(initial['missing']))}; "
              f"{plain(initial['detail'])}", file=out)


def _origin_text(origin: int | list[int] | None) -> str:
    return format_origin(tuple(origin) if isinstance(origin, list) else origin)


def run(args: argparse.Namespace) -> Outcome:
    """Run ``watchfloor snapshot``."""
    watchlist, _config = load_watchlist(args)
    at = time_argument(args.at, "--at")
    initial_state = None
    if getattr(args, "live", None) is not None:
        heard = _listen(args, watchlist, _config)
        engine, initial_state = heard.engine, heard.initial_state
    elif getattr(args, "initial_wait", None) is not None:
        raise UsageError("--initial-wait goes with --live SECONDS")
    elif not args.sources:
        raise UsageError("give a SOURCE (MRT file, RIS Live capture or journal), or --live SECONDS")
    else:
        engine = build_state(args.sources, watchlist, at)
    when = at if at is not None else engine.last_event_ts
    data = snapshot_data(engine, when, initial_state)
    if args.json:
        write_json(data, sys.stdout)
    else:
        render_table(data, watchlist, sys.stdout)
    return Outcome.WARNING if below_warning(data, watchlist) else Outcome.OK


def _listen(args: argparse.Namespace, watchlist: Watchlist, config: Any) -> Any:
    """``--live SECONDS``: the live feeds for that long (a LiveRun); CommandError on bad options."""
    seconds = float(args.live)
    if not seconds > 0:
        raise UsageError(f"--live needs a number of seconds above 0, got {args.live}")
    initial_wait = getattr(args, "initial_wait", None)
    if initial_wait is not None and not initial_wait >= 0:
        raise UsageError(f"--initial-wait needs a number of seconds, 0 or more, got {initial_wait:g}")
    if getattr(args, "at", None):
        raise UsageError("--at goes with SOURCE files; --live shows the state at the end of listening")
    if getattr(args, "sources", None):
        raise UsageError("give either SOURCE files or --live SECONDS, not both")
    url = getattr(args, "ris_live_url", None)
    if url and not url.startswith(("ws://", "wss://")):
        raise UsageError(f"--ris-live-url {url!r} is not a ws:// or wss:// URL")
    from tui.runtime import listen  # the live feeds (asyncio, websockets, httpx) only here

    return listen(seconds, watchlist, config, ris_live_url=url or None, initial_wait=initial_wait)


def build_state(sources: Sequence[str], watchlist: Watchlist, at: float | None) -> Engine:
    """An engine holding the state of ``sources`` at ``at`` (default: the end)."""
    # The readers (journal, sqlite3, MRT, RIS Live) are imported once there is a SOURCE to read:
    # `snapshot --help`, a usage error and `snapshot --live` start without them.
    from tui.journal.replay import ReplaySession, rebatch
    from tui.journal.sources import open_sources, sniff

    if len(sources) == 1 and sniff(sources[0]) == "journal":
        # A journal seeks: nearest checkpoint, then the rows after it.
        session = ReplaySession.open(sources[0], watchlist)
        with session:
            session.seek(session.end if at is None else at)
            return session.engine
    clock = FixedClock()
    engine = Engine(watchlist, clock)
    for batch in rebatch(open_sources(sources, watchlist), until=at):
        clock.value = max(clock.value, max(e.ts for e in batch))
        engine.ingest(batch)
    return engine
