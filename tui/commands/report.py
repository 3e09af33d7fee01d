"""``watchfloor report``: a Markdown incident report for a window of a journal.

Reads the journal written by ``collect`` (or ``record``): the recorded findings become
incidents (:func:`tui.core.incidents.build_incidents`, the console's grouping), the route
events are replayed from the nearest checkpoint to chart the visibility of the affected
prefixes (plotext, colourless text), and the DNS results are summarised per server.
Never imports Textual.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tui.commands import InputError, Outcome, UsageError, add_config_argument
from tui.config import load_config
from tui.core.clock import FixedClock, format_duration, format_time
from tui.core.dns import percentile
from tui.core.engine import Engine
from tui.core.events import DnsProbeResult, Event, Finding, Severity
from tui.core.incidents import Incident, build_incidents
from tui.core.prefixes import Prefix, PrefixError
from tui.journal.replay import ReplaySession, TimeFormatError, parse_time
from tui.journal.store import JournalReader
from tui.runtime import detectors_for

__all__ = ["register", "run", "build_report", "ReportData", "collect_report_data", "visibility_chart"]

EPILOG = """\
TIME is ISO 8601 (2014-12-22T16:00:00Z; no zone means UTC) or unix seconds. Without --from or
--until the report starts or ends with the journal. Findings that began before --from but
were still open inside the window are included.

examples:
  watchfloor report --journal nk.journal --from 2014-12-22T00:00Z --until 2014-12-23T00:00Z
  watchfloor report --journal /var/lib/watchfloor/collect.journal --from 1419206400 --output incident.md

exit codes: 0 written, 3 bad usage (bad TIME, --from after --until), 4 the journal cannot be read.
"""

_SEV_ORDER = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}
_MARKERS = ["•", "x", "+", "o", "*", "#"]


def register(subparsers: Any) -> None:
    """Add the ``report`` sub-command."""
    parser = subparsers.add_parser(
        "report",
        help="write a Markdown incident report for a window of a journal",
        description="Incidents, findings, affected prefixes, a visibility chart and a DNS summary, as Markdown.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--journal", required=True, metavar="PATH", help="journal written by collect or record")
    parser.add_argument("--from", dest="start", metavar="TIME", help="window start (default: journal start)")
    parser.add_argument("--until", dest="until", metavar="TIME", help="window end (default: journal end)")
    parser.add_argument("--output", metavar="FILE", help="write the report here instead of stdout")
    parser.add_argument("--width", type=int, default=100, help="chart width in characters (default 100)")
    add_config_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    """Run ``watchfloor report``."""
    try:
        start = parse_time(args.start) if args.start else None
        until = parse_time(args.until) if args.until else None
    except TimeFormatError as exc:
        raise UsageError(f"--from/--until: {exc}") from None
    if start is not None and until is not None and start > until:
        raise UsageError("--from is after --until; swap them")
    if args.width < 40:
        raise UsageError("--width must be at least 40")
    config = load_config(args.config)
    with JournalReader(args.journal) as reader:
        data = collect_report_data(reader, config.watchlist(), start, until)
        data.ongoing = ongoing_at_end(args.journal, config, data.until)
    text = build_report(data, journal=str(args.journal), width=args.width)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{args.output}: cannot write the report: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)
    return Outcome.OK


# -- gathering ------------------------------------------------------------------------------------


class ReportData:
    """What a report is made of (gathered once, rendered by :func:`build_report`)."""

    def __init__(self, start: float, until: float) -> None:
        self.start = start
        self.until = until
        self.findings: list[Finding] = []
        """Finding events with ts <= until (earlier ones too: incidents need their openings)."""
        self.incidents: list[Incident] = []
        self.series: dict[str, list[tuple[float, float | None]]] = {}
        """prefix → [(t, visibility ratio or None)] inside the window."""
        self.dns: list[DnsProbeResult] = []
        self.events_in_window = 0
        self.kinds: Counter[str] = Counter()
        self.ongoing: list[Finding] = []
        """What is under way at the window's end (:meth:`tui.core.engine.Engine.ending`)."""


def collect_report_data(reader: Any, watchlist: Any, start: float | None, until: float | None) -> ReportData:
    """Read findings, visibility and DNS results of ``[start, until]`` from a journal reader."""
    bounds = reader.bounds()
    lo = start if start is not None else (bounds[0] if bounds else 0.0)
    hi = until if until is not None else (bounds[1] if bounds else lo)
    data = ReportData(lo, hi)
    if bounds is None:
        return data
    # Findings first (indexed), so the prefixes to chart are known before the replay.
    last_seq = reader.last_seq_at(hi)
    for row in reader.rows(0, last_seq):
        event = row.event
        if isinstance(event, Finding):
            data.findings.append(event)
    incidents = build_incidents(data.findings)
    data.incidents = [
        i for i in incidents if i.opened <= hi and (i.closed is None or i.closed >= lo)
    ]
    charted = _prefixes_to_chart(data, watchlist)
    # Replay route state from the checkpoint before the window, sampling visibility per batch.
    clock = FixedClock(lo)
    engine = Engine(watchlist, clock)
    first_seq = reader.last_seq_at(lo)
    checkpoint = reader.checkpoint_at_or_before(first_seq) if first_seq else None
    after = 0
    if checkpoint is not None:
        try:
            state = reader.route_state(checkpoint)
            engine.restore(checkpoint.data.get("engine", checkpoint.data), state=state)
        except (KeyError, ValueError) as exc:
            raise reader.damaged_checkpoint(checkpoint.seq, exc) from None
        after = checkpoint.seq
    batch: list[Event] = []
    current_batch: int | None = None
    current_t = lo

    def apply(events: list[Event], t: float) -> None:
        engine.ingest([e for e in events if not isinstance(e, Finding)])
        if t < lo:
            return
        for prefix in charted:
            vis = engine.visibility(prefix)
            series = data.series.setdefault(str(prefix), [])
            ratio = vis.ratio
            if not series or series[-1][1] != ratio:
                series.append((t, ratio))

    for row in reader.rows(after, last_seq):
        if row.batch != current_batch and batch:
            apply(batch, current_t)
            batch = []
        current_batch = row.batch
        current_t = row.t
        batch.append(row.event)
        if row.t >= lo:
            data.events_in_window += 1
            data.kinds[row.event.KIND] += 1
            if isinstance(row.event, DnsProbeResult):
                data.dns.append(row.event)
    if batch:
        apply(batch, current_t)
    for prefix in charted:
        # Start every line at the window's start with the state then known.
        series = data.series.setdefault(str(prefix), [])
        if not series or series[0][0] > lo:
            series.insert(0, (lo, series[0][1] if series else engine.visibility(prefix).ratio))
    return data


def ongoing_at_end(journal: Any, config: Any, until: float) -> list[Finding]:
    """The findings open and pending at ``until``, as the detectors judge it replaying the journal.

    The recorded findings say what opened; a drop or an outage the window ends in the middle of
    (shorter than ``min_duration`` by then) is only known by running the detectors up to there.
    """
    watchlist = config.watchlist()
    with ReplaySession.open(journal, watchlist, detectors=detectors_for(config, watchlist)) as session:
        session.clock.end = min(session.clock.end, max(until, session.clock.start))
        session.seek(session.clock.end)
        return session.engine.ending(session.clock.end, session.ending)


def _prefixes_to_chart(data: ReportData, watchlist: Any, limit: int = 6) -> list[Prefix]:
    wanted: list[Prefix] = []
    for incident in data.incidents:
        for finding in incident.findings.values():
            text = finding.evidence_dict.get("prefix") or finding.subject.split(" ")[0]
            try:
                prefix = Prefix.parse(str(text))
            except PrefixError:
                continue
            if prefix not in wanted and finding.kind in ("visibility", "outage", "flapping", "more_specific", "moas",
                                                         "origin_change", "upstream_change"):
                wanted.append(prefix)
    if not wanted:
        wanted = list(watchlist.prefixes())
    return wanted[:limit]


# -- rendering ------------------------------------------------------------------------------------


def _iso(ts: float | None) -> str:
    return "-" if ts is None else format_time(ts)


def _dur(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(seconds)


def md(text: object) -> str:
    """Untrusted text made safe for a Markdown table cell: no markup, no escapes, one line."""
    value = "".join(ch if ch.isprintable() else " " for ch in str(text))
    value = re.sub(r"([\\`*\[\]<>|~])", r"\\\1", value)
    # An underscore inside a word is literal in CommonMark; only a free-standing one can emphasise.
    value = re.sub(r"(?<!\w)_|_(?!\w)", r"\\_", value)
    return value.strip() or "-"


def visibility_chart(series: dict[str, list[tuple[float, float | None]]], start: float, until: float, *, width: int = 100) -> str:
    """A colourless plotext line chart of visibility (%) over the window, as text."""
    import plotext as plt  # the plotting library only when there is a chart to draw

    plt.clf()
    plt.plot_size(width, 22)
    plt.theme("clear")
    span = max(until - start, 1.0)
    scale, unit = (3600.0, "hours") if span > 3 * 3600 else (60.0, "minutes")
    drawn = 0
    for index, (name, points) in enumerate(series.items()):
        xs: list[float] = []
        ys: list[float] = []
        for t, ratio in points:
            if ratio is None:
                continue
            # Steps, not slopes: visibility holds until the next change.
            if xs:
                xs.append((t - start) / scale)
                ys.append(ys[-1])
            xs.append((t - start) / scale)
            ys.append(ratio * 100)
        if not xs:
            continue
        xs.append((until - start) / scale)
        ys.append(ys[-1])
        plt.plot(xs, ys, label=name, marker=_MARKERS[index % len(_MARKERS)])
        drawn += 1
    if not drawn:
        plt.clf()
        return "(no visibility data in this window)"
    plt.ylim(0, 100)
    plt.xlim(0, span / scale)
    plt.ylabel("% of full-feed peers")
    plt.xlabel(f"{unit} after {_iso(start)}")
    text = plt.uncolorize(plt.build())
    plt.clf()
    return "\n".join(line.rstrip() for line in text.splitlines())


def build_report(data: ReportData, *, journal: str = "", width: int = 100) -> str:
    """The Markdown report."""
    out: list[str] = []
    add = out.append
    add("# Watchfloor incident report")
    add("")
    add(f"- Window: {_iso(data.start)} to {_iso(data.until)} ({_dur(data.until - data.start)})")
    if journal:
        add(f"- Journal: `{md(journal)}`")
    add(f"- Events in the window: {data.events_in_window}"
        + (" (" + ", ".join(f"{k} {n}" for k, n in sorted(data.kinds.items())) + ")" if data.kinds else ""))
    severities = Counter(i.severity for i in data.incidents)
    add(f"- Incidents: {len(data.incidents)}"
        + (" (" + ", ".join(f"{n} {s}" for s, n in sorted(severities.items(), key=lambda kv: _SEV_ORDER.get(kv[0], 9))) + ")"
           if data.incidents else ""))
    add("")
    add("## Incidents")
    add("")
    if not data.incidents:
        add("No incident in this window.")
        add("")
    for incident in sorted(data.incidents, key=lambda i: (i.opened, i.incident_id)):
        state = "open at the end of the window" if incident.is_open or (incident.closed or 0) > data.until else "closed"
        add(f"### {md(incident.title)}")
        add("")
        add(f"- Severity: **{incident.severity}**; {state}")
        add(f"- Opened {_iso(incident.opened)}, closed {_iso(incident.closed)}, "
            f"duration {_dur(incident.duration(data.until))}")
        add(f"- Subjects: {', '.join(md(s) for s in incident.subjects)}")
        add("")
        add("| finding | subject | severity | opened | closed | duration | last summary |")
        add("|---|---|---|---|---|---|---|")
        for finding in sorted(incident.findings.values(), key=lambda f: (f.started, f.finding_id)):
            closed = finding.ts if finding.state == "close" else None
            duration = finding.evidence_dict.get("duration") if closed is not None else None
            add(f"| {md(finding.kind)} | {md(finding.subject)} | {finding.severity} | {_iso(finding.started)} | "
                f"{_iso(closed)} | {_dur(duration)} | {md(finding.summary)} |")
        add("")
        evidence = _evidence_lines(incident)
        if evidence:
            add("Evidence:")
            add("")
            out.extend(evidence)
            add("")
    add("## Under way at the end of the window")
    add("")
    if not data.ongoing:
        add("Nothing: every finding had closed, and no condition was pending.")
    else:
        add("Open findings, and conditions not yet long enough to be findings (`pending`), as the window ends.")
        add("")
        add("| state | severity | watch | finding | subject | since | summary |")
        add("|---|---|---|---|---|---|---|")
        for f in data.ongoing:
            add(f"| {f.state} | {f.severity} | {md(f.watch)} | {md(f.kind)} | {md(f.subject)} | {_iso(f.started)} "
                f"| {md(f.summary)} |")
    add("")
    add("## Timeline")
    add("")
    in_window = [f for f in data.findings if data.start <= f.ts <= data.until]
    if not in_window:
        add("No finding changed state in this window.")
    else:
        add("| time | state | severity | watch | finding | subject | summary |")
        add("|---|---|---|---|---|---|---|")
        for f in in_window:
            add(f"| {_iso(f.ts)} | {f.state} | {f.severity} | {md(f.watch)} | {md(f.kind)} | {md(f.subject)} | {md(f.summary)} |")
    add("")
    add("## Affected prefixes")
    add("")
    rows = _affected(data)
    if not rows:
        add("None.")
    else:
        add("| prefix | watch | findings | worst severity | lowest visibility in window |")
        add("|---|---|---|---|---|")
        for prefix, watches, kinds, worst, lowest in rows:
            low = "-" if lowest is None else f"{lowest:.0%}"
            add(f"| {md(prefix)} | {md(', '.join(sorted(watches)))} | {md(', '.join(sorted(kinds)))} | {worst} | {low} |")
    add("")
    add("## Visibility")
    add("")
    add("Share of up full-feed peers holding a route to exactly each prefix (unknown spells are left blank).")
    add("")
    add("```text")
    add(visibility_chart(data.series, data.start, data.until, width=width))
    add("```")
    add("")
    add("## DNS")
    add("")
    out.extend(_dns_summary(data.dns))
    add("")
    return "\n".join(out)


def _evidence_lines(incident: Incident, limit: int = 8) -> list[str]:
    lines: list[str] = []
    for finding in sorted(incident.findings.values(), key=lambda f: (f.started, f.finding_id)):
        ev = finding.evidence_dict
        parts = []
        if "visible" in ev and "full_feed" in ev:
            parts.append(f"seen by {ev['visible']}/{ev['full_feed']} full-feed peers ({md(ev.get('basis', ''))})")
        if isinstance(ev.get("collectors"), dict) and ev["collectors"]:
            parts.append(
                "collectors " + ", ".join(f"{md(c)} {_collector_count(v)}" for c, v in list(ev["collectors"].items())[:6])
            )
        if isinstance(ev.get("covering_routes"), dict) and ev["covering_routes"]:
            parts.append("still covered by " + ", ".join(f"{md(p)} ({n} peers)" for p, n in ev["covering_routes"].items()))
        if "sessions" in ev and isinstance(ev["sessions"], dict):
            parts.append("sessions " + ", ".join(f"{md(s)} x{n}" for s, n in list(ev["sessions"].items())[:3]))
        if "origins" in ev and isinstance(ev["origins"], dict | list):
            names = list(ev["origins"]) if isinstance(ev["origins"], dict) else ev["origins"]
            parts.append("origins " + ", ".join("AS" + md(o) for o in names))
        if "diagnosis" in ev and isinstance(ev["diagnosis"], dict):
            parts.append("diagnosis " + md(ev["diagnosis"].get("label", "")) + ": " + md(ev["diagnosis"].get("text", "")))
        updates = ev.get("updates")
        if isinstance(updates, list) and updates:
            parts.append("last update: " + md(updates[-1]))
        if parts:
            lines.append(f"- {md(finding.kind)} {md(finding.subject)}: " + "; ".join(parts))
        if len(lines) >= limit:
            break
    return lines


def _collector_count(value: Any) -> str:
    if isinstance(value, dict) and "visible" in value:
        return f"{value['visible']}/{value.get('full_feed', '?')}"
    return md(value)


def _affected(data: ReportData) -> list[tuple[str, set[str], set[str], str, float | None]]:
    table: dict[str, tuple[set[str], set[str], str]] = {}
    for incident in data.incidents:
        for finding in incident.findings.values():
            prefix = str(finding.evidence_dict.get("prefix") or "")
            if not prefix:
                head = finding.subject.split(" ")[0]
                try:
                    prefix = str(Prefix.parse(head))
                except PrefixError:
                    continue
            watches, kinds, worst = table.get(prefix, (set(), set(), Severity.INFO))
            watches.add(finding.watch)
            kinds.add(finding.kind)
            if Severity.RANK.get(finding.severity, 0) > Severity.RANK.get(worst, 0):
                worst = finding.severity
            table[prefix] = (watches, kinds, worst)
    rows = []
    for prefix, (watches, kinds, worst) in sorted(table.items()):
        ratios = [r for _, r in data.series.get(prefix, []) if r is not None]
        rows.append((prefix, watches, kinds, worst, min(ratios) if ratios else None))
    return rows


def _dns_summary(results: Sequence[DnsProbeResult]) -> list[str]:
    if not results:
        return ["No DNS results in this window."]
    groups: dict[tuple[str, str, str, str, int, str], list[DnsProbeResult]] = {}
    for r in results:
        groups.setdefault((r.zone, r.role, r.server, r.address, r.port, r.transport), []).append(r)
    lines = [
        "| zone | role | server | address | probes | ok | failures | p50 ms | p95 ms | serials |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (zone, role, server, address, port, transport), items in sorted(groups.items()):
        ok = [r for r in items if r.outcome == "ok"]
        failures = Counter(r.outcome for r in items if r.outcome != "ok")
        latencies = [r.latency for r in ok if r.latency is not None]
        p50 = percentile(latencies, 0.5)
        p95 = percentile(latencies, 0.95)
        serials = sorted({r.serial for r in ok if r.serial is not None})
        where = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        lines.append(
            f"| {md(zone)} | {md(role)} | {md(server)} | {md(where)}/{md(transport)} | {len(items)} | {len(ok)} | "
            f"{md(', '.join(f'{k} {n}' for k, n in sorted(failures.items())) or '-')} | "
            f"{'-' if p50 is None else f'{p50 * 1000:.0f}'} | {'-' if p95 is None else f'{p95 * 1000:.0f}'} | "
            f"{md(', '.join(map(str, serials)) or '-')} |"
        )
    return lines

