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
