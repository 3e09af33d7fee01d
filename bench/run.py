"""Run Watchfloor's benchmarks: ``.venv/bin/python bench/run.py [--quick] [--repeats N]``.

Prints a table and writes ``bench/results/<name>-<UTC time>.json`` (the folder is gitignored).
Exit status: 0 when every target is met, 1 when one is missed (the table says which), 2 when
the reference (bgpdump) or the data is missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import mrt_ingest  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the MRT ingest benchmark, print and save the result."""
    parser = argparse.ArgumentParser(prog="bench/run.py", description="Run the MRT ingest benchmark against bgpdump and check its targets.")
    parser.add_argument("--quick", action="store_true", help="one repetition instead of five (a smoke run)")
    parser.add_argument("--repeats", type=int, default=None, help="repetitions per measurement (best is kept)")
    parser.add_argument("--results", type=Path, default=HERE / "results", help="where to write the JSON result")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 5)
    missing = [path for path in mrt_ingest.FILES if not path.exists()]
    if missing:
        print(f"benchmark data missing: {', '.join(map(str, missing))} (set WATCHFLOOR_SHARED)", file=sys.stderr)
        return 2
    try:
        result = mrt_ingest.run(repeats)
    except SystemExit as exc:  # bgpdump missing
        print(exc, file=sys.stderr)
        return 2
    print(mrt_ingest.table(result))
    saved = mrt_ingest.save(result, args.results)
    missed = mrt_ingest.verdict(result)
    for line in missed:
        print(f"MISSED: {line}")
    print(f"result written to {saved}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
