"""The core and the headless commands must not pull in Textual, Rich or network libraries."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _core_modules() -> list[str]:
    """Every module under tui/core, found on disk so a new one cannot slip past the check."""
    import pkgutil

    import tui.core

    found = [m.name for m in pkgutil.walk_packages(tui.core.__path__, "tui.core.")]
    assert "tui.core.engine" in found and "tui.core.detectors.base" in found
    return found


CORE_MODULES = _core_modules()
FORBIDDEN_IN_CORE = ["textual", "rich", "httpx", "websockets", "dns", "sqlite3", "asyncio", "socket"]


def _loaded_after_import(modules: list[str]) -> set[str]:
    code = (
        "import sys\n"
        f"for m in {modules!r}: __import__(m)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_core_imports_no_ui_or_io_library():
    loaded = _loaded_after_import(CORE_MODULES)
    bad = sorted(m for m in loaded if m.split(".")[0] in FORBIDDEN_IN_CORE)
    assert bad == [], f"tui.core imported {bad}"


@pytest.mark.parametrize("command", ["snapshot", "record", "replay", "check", "collect", "report", "attach", "console"])
def test_headless_commands_do_not_import_textual(command):
    loaded = _loaded_after_import(["tui.cli", f"tui.commands.{command}"])
    assert f"tui.commands.{command}" in loaded
    assert not any(m.split(".")[0] in ("textual", "rich") for m in loaded)


def test_a_snapshot_of_a_file_loads_no_event_loop_or_network_client():
    """Reading a file is a one-shot start: asyncio, ssl and the feeds' clients cost it ~20 ms.

    Run as users run it, through the CLI, so an import added anywhere on that path (the command,
    the source sniffer, the readers) is caught, not just at module level.
    """
    from tests.conftest import shared_file

    mrt = shared_file("mrt/bgpdump/updates.20070211.0141.gz")
    code = (
        "import sys\n"
        "from tui.cli import main\n"
        f"code = main(['snapshot', {str(mrt)!r}, '--json'])\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    loaded = set(done.stderr.split())
    assert '"prefixes"' in done.stdout and "tui.feeds.mrt" in loaded
    heavy = sorted(m for m in loaded if m.split(".")[0] in ("asyncio", "ssl", "httpx", "websockets", "textual", "dns")
                   or m in ("tui.feeds.ris_live", "tui.feeds.http", "tui.runtime"))
    assert heavy == [], f"snapshot of an MRT file imported {heavy}"
