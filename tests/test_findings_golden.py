"""Findings on every real file are pinned: a refactor of the detectors must not change them.

tests/golden/findings/CASE.json.gz holds the findings the detectors raised on each case of
tests/golden_cases.py (every MRT file and RIS Live capture in ../shared/data, with watches
picked from the file), taken the way ``replay``, ``record`` and ``collect --from-files`` apply
a file: one-second batches through one engine with every detector, ticked every second of
data time. Findings are compared as a multiset: their order inside one batch may change, their
content may not. After a deliberate change of what a detector reports, rewrite the files with
``WATCHFLOOR_UPDATE_GOLDEN=1 pytest tests/test_findings_golden.py`` and read the diff.
"""

from __future__ import annotations

import gzip
import json
import math
import os
from pathlib import Path

import pytest

from conftest import shared_file
from golden_cases import CASES, watchlist_of
from tui.core.clock import VirtualClock
from tui.core.detectors import default_detectors
from tui.core.engine import Engine
from tui.core.events import Finding, event_to_dict
from tui.journal.replay import Stepper, rebatch
from tui.journal.sources import open_sources

GOLDEN = Path(__file__).parent / "golden" / "findings"


class _Findings:
    """The engine's recorder: keeps the findings, as JSON-compatible dicts, in order."""

    def __init__(self) -> None:
        self.found: list[dict] = []

    def append(self, events) -> None:
        self.found += [event_to_dict(e) for e in events if isinstance(e, Finding)]


def findings_of(path: Path, spec) -> list[dict]:
    """Every finding the detectors raise on ``path`` with the case's watches, as replay applies it."""
    watchlist = watchlist_of(spec)
    clock = VirtualClock(0.0, math.inf)
    recorder = _Findings()
    engine = Engine(watchlist, clock, detectors=default_detectors(watchlist), recorder=recorder)
    stepper = Stepper(engine, clock, tick_interval=1.0, rerun_findings=True)
    previous: float | None = None
    for batch in rebatch(open_sources([path], watchlist)):
        t = max(e.ts for e in batch)
        t = t if previous is None else max(t, previous)
        stepper.apply(batch, t)
        previous = t
    if previous is not None:
        stepper.tick_through(previous)
    return recorder.found


def _canonical(findings: list[dict]) -> list[str]:
    return sorted(json.dumps(f, sort_keys=True) for f in findings)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "relative", "spec"), CASES, ids=[c[0] for c in CASES])
def test_findings_unchanged(name, relative, spec):
    found = findings_of(shared_file(relative), spec)
    golden = GOLDEN / f"{name}.json.gz"
    if os.environ.get("WATCHFLOOR_UPDATE_GOLDEN"):
        # Written in a canonical order, so that the diff of a deliberate change shows only it.
        data = json.dumps(sorted(found, key=lambda f: json.dumps(f, sort_keys=True)), sort_keys=True, indent=0).encode()
        golden.write_bytes(gzip.compress(data, 9, mtime=0))
    expected = json.loads(gzip.decompress(golden.read_bytes()))
    assert found, f"{name}: no findings at all: the case no longer exercises the detectors"
    assert _canonical(found) == _canonical(expected)
