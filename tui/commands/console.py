"""``watchfloor`` / ``watchfloor console``: the live console.

Textual is imported only inside :func:`run`, so registering this command (which every
``watchfloor`` invocation does) costs headless commands nothing.
"""

from __future__ import annotations

import argparse
import dataclasses

from tui.commands import UsageError, add_config_argument
from tui.config import load_config

__all__ = ["register", "run", "add_console_arguments"]


def add_console_arguments(parser: argparse.ArgumentParser) -> None:
    """``--theme`` (shared with ``watchfloor replay``)."""
    parser.add_argument(
        "--theme",
        metavar="NAME",
        help="console theme: dark (default), light, high-contrast, mono16 "
        "(default: the config's theme; mono16 when NO_COLOR is set)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``console`` sub-command."""
    parser = subparsers.add_parser(
        "console",
        help="the live console (the default when no command is given)",
        description="Open the live console: route visibility, DNS and events for the watchlist, "
        "fed by RIS Live, RIPEstat and the DNS checks. Press ? inside for every key.",
    )
    add_config_argument(parser)
    add_console_arguments(parser)
    parser.add_argument("--ris-live-url", metavar="URL", help="RIS Live websocket URL (overrides [feeds.ris_live] url)")
    parser.add_argument("--journal", metavar="PATH", help="also record every event to this SQLite journal")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the config and open the live console."""
    config = load_config(args.config)
    if args.ris_live_url:
        if not args.ris_live_url.startswith(("ws://", "wss://")):
            raise UsageError(f"--ris-live-url {args.ris_live_url!r}: not a ws:// or wss:// URL")
        config = dataclasses.replace(config, feeds=dataclasses.replace(config.feeds, ris_live_url=args.ris_live_url))
    from tui.console.app import run_live  # Textual only past this point

    return run_live(config, args)
