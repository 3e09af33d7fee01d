"""bench/seek.py's pure helpers: what it types, how it reads the replay bar, which seeks it plans.

No timing here (the figures are the bench's): these pin that the bench seeks where it says and
recognises the frame that shows the seek done.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tui.console.model import parse_jump
from tui.console.widgets.status import replay_text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import seek  # noqa: E402

START, END = 1445565678.511408, 1445565715.5741
"""The window of updates.et-header.2015.gz."""

FACTS = seek.JournalFacts(
    START, END, 1000,
    ((START, 2), (START + 10.0, 100), (START + 20.0, 300), (START + 20.5, 700), (START + 21.0, 990), (END, 1000)),
    ((100, START + 10.0), (700, START + 20.5), (1000, END)),
)
"""A small journal: rows at six times, checkpoints after rows 100, 700 and 1000."""


@pytest.mark.parametrize("ts", [START, END, START + 0.4, 1445565707.257644, 1445565700.0, START - 60, END + 60])
@pytest.mark.parametrize("width", [80, 120])
def test_the_bar_is_read_as_the_console_draws_it(ts: float, width: int) -> None:
    line = replay_text(min(END, max(START, ts)), START, END, 1.0, False, width)
    screen = " REPLAY  2015-10-23T02:01:18Z │ ✓ no open incidents\n" + line + "\n╭─ 1 Visibility ─╮"
    assert seek.bar_position(screen) == seek.shown_position(ts, START, END)


def test_a_prompt_in_the_bar_is_no_position() -> None:
    line = replay_text(START, START, END, 1.0, False, 80, ["at start: space plays, + faster, g jump, ? keys"])
    assert seek.bar_position("status\n" + line) is None


@pytest.mark.parametrize("ts", [START, END, 1445565707.257644, 1445565700.0])
def test_what_is_typed_reads_back_as_the_target(ts: float) -> None:
    typed = seek.typed_time(ts)
    assert parse_jump(typed, now=START) == ts
    assert typed.endswith("Z") == (ts == int(ts))


def test_targets_show_distinct_positions_and_include_the_edges_and_the_worst_batch() -> None:
    targets = seek.choose_targets(FACTS, randoms=3, seed=1)
    names = [t.name for t in targets]
    assert {"10%", "90%", "end", "start"} <= set(names)
    keys = [seek.shown_position(t.ts, START, END) for t in targets]
    assert len(set(keys)) == len(keys)
    # Rows 701..990 follow the checkpoint after row 700: the most of any batch.
    worst = next(t for t in targets if t.name.startswith("most rows"))
    assert (worst.ts, worst.name) == (START + 21.0, "most rows after a checkpoint (290)")
    assert all(START <= t.ts <= END for t in targets)
    assert sum(n.startswith("row ") for n in names) <= 3
    assert seek.choose_targets(FACTS, randoms=3, seed=1) == targets


def test_zigzag_alternates_direction() -> None:
    targets = [seek.Target(str(i), float(i), str(i)) for i in range(5)]
    assert [t.ts for t in seek.zigzag(targets, high_first=False)] == [0, 4, 1, 3, 2]
    assert [t.ts for t in seek.zigzag(targets, high_first=True)] == [4, 0, 3, 1, 2]


@pytest.mark.parametrize("count", [2, 4, 7, 10])
def test_each_console_visits_its_targets_every_pass_never_twice_in_a_row(count: int) -> None:
    targets = [seek.Target(f"t{i}", START + i, str(i)) for i in range(count)]
    consoles = seek.plan_consoles(targets, group=3, passes=3, seed=5)
    assert sorted(t.name for c in consoles for t in dict.fromkeys(c)) == sorted(t.name for t in targets)
    for sequence in consoles:
        members = set(sequence)
        assert 2 <= len(members) <= 3
        assert all(sequence.count(t) == 3 for t in members)
        assert all(a != b for a, b in zip(sequence, sequence[1:], strict=False))
        moves = [b.ts > a.ts for a, b in zip(sequence, sequence[1:], strict=False)]
        assert True in moves and False in moves


def test_a_seek_landing_where_the_last_one_did_is_dropped() -> None:
    a, b, c = (seek.Target(n, START + offset, n) for n, offset in (("a", 20.0), ("b", 22.0), ("c", 30.0)))
    # b lands where a did (as when a detector tick leaves the clock on a whole second); c does not.
    assert seek.drop_unseen([a, b, c], [a.ts, a.ts, c.ts], FACTS) == [a, c]
    assert seek.drop_unseen([a, b, c], [a.ts, b.ts, c.ts], FACTS) == [a, b, c]
