"""Run Watchfloor's benchmarks: ``.venv/bin/python bench/run.py [--quick] [--repeats N] [--only TEXT]``.

First the commands as users run them against ``bgpdump -m`` (``bench/cli.py``: the product's
figures, median of N interleaved runs), then the MRT reader alone in-process
(``bench/mrt_ingest.py``: an inner figure, labelled so, best of N). Prints both tables and
writes ``bench/results/<name>-<UTC time>.json`` (the folder is gitignored).

Exit status: 0 when every target is met, 1 when one is missed (``MISSED:`` lines say which),
2 when the reference (bgpdump) or the data is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cli  # noqa: E402
import mrt_ingest  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the benchmarks, print and save the results."""
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description="Time the commands against bgpdump and check their targets."
    )
    parser.add_argument("--quick", action="store_true", help="one repetition instead of five (a smoke run)")
    parser.add_argument("--repeats", type=int, default=None, help="repetitions per measurement")
    parser.add_argument("--only", metavar="TEXT", help="only the command cases whose name contains TEXT (and no in-process part)")
    parser.add_argument("--results", type=Path, default=HERE / "results", help="where to write the JSON results")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 5)
    try:
        print(f"Commands as users run them, median of {repeats}, interleaved with bgpdump -m on the same file:")
        print(cli.HEADER)
        results = cli.run(repeats, args.only)
        ingest = None
        if args.only is None:
            print(
                f"\nIn-process figures (the MRT reader alone, no interpreter start-up, no engine, no output; best of {repeats}):"
            )
            ingest = mrt_ingest.run(repeats)
            print(mrt_ingest.table(ingest))
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    saved = args.results / f"cli-{stamp}.json"
    saved.write_text(json.dumps({
        "when": stamp, "python": sys.version.split()[0], "cpus": os.cpu_count(), "load_average": os.getloadavg(),
        "startup": asdict(cli.last_startup) if cli.last_startup is not None else None,
        "cases": [asdict(r) for r in results],
    }, indent=2))
    print(f"\nresults written to {saved}")
    if ingest is not None:
        print(f"in-process results written to {mrt_ingest.save(ingest, args.results)}")
    missed = [line for r in results for line in r.missed()]
    for line in missed:
        print(f"MISSED: {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
