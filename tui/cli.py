"""The ``watchfloor`` command line: argument parsing and dispatch to ``tui.commands.*``.

Exit codes (documented in the README):

- 0: success (for ``check``: all well)
- 1: warnings found (``check``, ``snapshot`` with a prefix below its warning threshold)
- 2: critical findings (``check``)
- 3: bad usage or configuration
- 4: input could not be read (missing file, unknown format, unreachable feed)
- 130: interrupted
- 129, 143: ended by SIGHUP or SIGTERM (128 + the signal, see :func:`_exit_on_termination`; the
  console's own handler, in tui/console/app.py, ends with the same codes)

Every exit code is decided here, nowhere else: each layer raises its own errors (the config's
ConfigError, the commands' UsageError and InputError, the journal's JournalError...) and
:data:`LAYER_ERRORS` says what each means; a command returns an :class:`~tui.commands.Outcome`
and :data:`OUTCOME_CODES` says what that means.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tui import __version__

if TYPE_CHECKING:
    from tui.commands import Outcome

__all__ = [
    "main", "build_parser", "exit_code_of", "exit_code_for", "LAYER_ERRORS", "OUTCOME_CODES",
    "EXIT_OK", "EXIT_WARNING", "EXIT_CRITICAL", "EXIT_USAGE", "EXIT_INPUT", "EXIT_INTERRUPTED",
]

EXIT_OK = 0
EXIT_WARNING = 1
EXIT_CRITICAL = 2
EXIT_USAGE = 3
EXIT_INPUT = 4
EXIT_INTERRUPTED = 130

COMMANDS = ("console", "snapshot", "replay", "record", "check", "collect", "report", "attach")
"""Sub-command modules under ``tui.commands``; a module missing here is simply not offered."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full argument parser; with ``only``, just that sub-command's (the others are not imported).

    Importing a command's module pulls in what it needs (the console Textual, the collector
    asyncio and the feeds): a one-shot command must not pay for the others at every start.
    """
    parser = argparse.ArgumentParser(
        prog="watchfloor",
        description="A terminal watch floor for Internet routing and DNS. "
        "Without a sub-command, opens the live console.",
        epilog="Exit codes: 0 ok, 1 warnings, 2 critical, 3 usage/config error, 4 input error, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"watchfloor {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        try:
            module = importlib.import_module(f"tui.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"tui.commands.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The sub-command ``argv`` names, when it names one (its first word)."""
    return argv[0] if argv and argv[0] in COMMANDS else None


LAYER_ERRORS: dict[str, tuple[int, str]] = {
    "tui.config.ConfigError": (EXIT_USAGE, "config error: "),
    "tui.commands.UsageError": (EXIT_USAGE, ""),
    "tui.commands.InputError": (EXIT_INPUT, ""),
    "tui.console.actions.KeymapError": (EXIT_USAGE, "config error: "),
    "tui.console.themes.ThemeError": (EXIT_USAGE, ""),
    "tui.journal.sources.SourceError": (EXIT_INPUT, ""),
    "tui.journal.store.JournalError": (EXIT_INPUT, ""),
    "tui.runtime.SetupError": (EXIT_INPUT, ""),
}
"""Each layer's own errors, by qualified class name: the exit code each means here, and what is
said before its message (after ``watchfloor: ``). By name, so that a one-shot command does not
import every layer to be able to catch their errors. Anything else is a bug: its traceback shows."""

OUTCOME_CODES: dict[str, int] = {"ok": EXIT_OK, "warning": EXIT_WARNING, "critical": EXIT_CRITICAL}
"""A command's :class:`tui.commands.Outcome` (by value) and the exit code it means."""


def _known_error(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, message lead) for a layer's error (its class or a base of it), None otherwise."""
    for cls in type(exc).__mro__:
        known = LAYER_ERRORS.get(f"{cls.__module__}.{cls.__qualname__}")
        if known is not None:
            return known
    return None


def exit_code_of(exc: BaseException) -> int | None:
    """The exit code for a layer's error (its class or a base of it), None when it is not one."""
    known = _known_error(exc)
    return None if known is None else known[0]


def exit_code_for(result: Outcome | int | None) -> int:
    """The exit code for what a command's ``run`` returned.

    None is success; an :class:`~tui.commands.Outcome` goes through :data:`OUTCOME_CODES`; an
    int is the console's own return code, passed on (Textual's: not 0 when the app failed).
    """
    if result is None:
        return EXIT_OK
    if isinstance(result, str):
        return OUTCOME_CODES[result]
    return int(result)


def _tune_collector() -> None:
    """Fewer passes of the cyclic garbage collector: a table is built of millions of objects.

    What is imported so far lives as long as the process: frozen, it is never scanned again.
    Collections then start after 50,000 new container objects instead of 700: reading or
    restoring a whole table creates them by the hundred thousand, none of them garbage, and
    each pass scanned them all again (about a tenth of the time of a whole-table snapshot).
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def _exit_on_termination() -> list[int]:
    """SIGTERM and SIGHUP raise SystemExit(128 + the signal) instead of killing the process.

    Python's default ends it at once; this way ``with`` blocks and ``finally`` clauses run as
    they do for Ctrl-C: a journal being written gets its last checkpoint, and ``replay FILE``
    deletes the temporary journal it recorded into. A signal set to be ignored (``nohup``) stays
    ignored. The console and ``collect`` put their own handlers on top while they run.
    """
    installed = []
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) == signal.SIG_DFL:
            try:
                signal.signal(signum, _raise_exit)
            except ValueError:
                break  # not the main thread (an embedding): signals are not this call's to take
            installed.append(signum)
    return installed


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``watchfloor`` with ``argv``; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        # Bare `watchfloor [options]` opens the console, as documented.
        argv = ["console", *argv]
    parser = build_parser(_command_of(argv))
    args = parser.parse_args(argv)
    _tune_collector()
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    # `check` prints the code it will exit with: it is told the table rather than knowing numbers.
    args.outcome_codes = OUTCOME_CODES
    handled = _exit_on_termination()
    try:
        return _run_command(args)
    finally:
        # main() is also called in-process (tests, embedding): leave the defaults as found.
        for signum in handled:
            signal.signal(signum, signal.SIG_DFL)


def _run_command(args: argparse.Namespace) -> int:
    """The command's function, its errors mapped to exit codes (see the module docstring)."""
    try:
        result = args.func(args)
    except BrokenPipeError:
        # The reader went away (`watchfloor snapshot ... | head`): it has what it wanted. Before
        # `except Exception`, which it is one of; stdout goes to /dev/null so that the flush at
        # exit does not fail again on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        known = _known_error(exc)
        if known is None:
            raise
        code, lead = known
        print(f"watchfloor: {lead}{exc}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print("watchfloor: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return exit_code_for(result)
