"""One module per ``watchfloor`` sub-command; each has ``register(subparsers)`` and ``run(args)``.

``register`` adds the sub-command's parser and sets ``func=run`` on it. Keeping each command in
its own module keeps the console, the feeds and the collector out of each other's imports: a
headless command never imports Textual.

What every command shares is here: its errors, its outcomes and the ``--config`` option. A
command says *what* went wrong or how things stand; :mod:`tui.cli` alone turns that into an
exit code (its ``LAYER_ERRORS`` and ``OUTCOME_CODES`` tables), as it does for every layer's
errors::

    CommandError          a command failed in a way the user can act on
    ├── UsageError        bad usage: options that contradict, values out of range (exit 3)
    └── InputError        input could not be read: a SOURCE, a journal, the bus (exit 4)
"""

from __future__ import annotations

import argparse
import enum

__all__ = ["CommandError", "UsageError", "InputError", "Outcome", "add_config_argument"]


class CommandError(Exception):
    """A command failed in a way the user can act on; the message says what and what to do."""


class UsageError(CommandError):
    """The command line asks for something that cannot be done (bad or contradicting options)."""


class InputError(CommandError):
    """An input the command needs could not be read (a SOURCE, a journal, the bus, a file to write)."""


class Outcome(enum.StrEnum):
    """How things stand when a command ends normally (``check``, ``snapshot`` judge; others are ``OK``)."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--config PATH`` option every command shares."""
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="TOML config file (default: $WATCHFLOOR_CONFIG, then ~/.config/watchfloor/config.toml; "
        "without one, the built-in North Korea watch)",
    )
