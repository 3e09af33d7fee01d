"""A built wheel carries what the console needs (the package and its themes), installed anywhere.

The wheel is built with this venv's setuptools (``--no-build-isolation --no-index``: nothing is
downloaded) from a copy of the checkout, since a build leaves ``build/`` and ``*.egg-info`` in
the folder it runs in. It is installed into a folder of its own and used by a fresh interpreter
started outside the source tree, which must import that copy and not the checkout's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import REPO

THEME_FILES = sorted(p.name for p in (REPO / "themes").glob("*.toml"))

# Run in the fresh interpreter: the installed folder first on sys.path, then the console built.
INSTALLED_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
import tui
from tui.console import themes
from tui.console.app import WatchfloorApp
from tui.core.clock import FixedClock
from tui.core.engine import Engine
from tui.core.watchlist import NORTH_KOREA, Watchlist

app = WatchfloorApp(Engine(Watchlist([NORTH_KOREA]), FixedClock(1419264000.0)))
loaded = themes.load_themes()
print(json.dumps({
    "tui": tui.__file__,
    "theme_files": sorted(str(p) for p in themes.THEMES_DIR.iterdir()),
    "loaded": sorted(loaded),
    "primaries": {name: app.get_theme(name).primary for name in loaded},
    "app_theme": app.theme,
    "modules": sorted(m.__file__ for name, m in sys.modules.items()
                      if name.split(".")[0] == "tui" and getattr(m, "__file__", None)),
}))
"""

# A checkout used without any install: the editable install's finder taken out of the way.
CHECKOUT_CHILD = """
import json, sys
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
sys.path.insert(0, sys.argv[1])
import tui
from tui.console import themes
print(json.dumps({"tui": tui.__file__, "themes_dir": str(themes.THEMES_DIR), "loaded": sorted(themes.load_themes())}))
"""


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WATCHFLOOR_THEMES", "NO_COLOR", "PYTHONPATH")}
    env["XDG_CONFIG_HOME"] = "/nonexistent"  # never the developer's own config
    return env


def _run_child(code: str, path: Path, cwd: Path) -> dict:
    # -I: neither the current folder nor PYTHONPATH reaches sys.path; only what the code puts there.
    done = subprocess.run(
        [sys.executable, "-I", "-c", code, str(path)], cwd=cwd, env=_child_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from a copy of the checkout, installed with pip into a folder of its own."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for name in ("tui", "themes"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    built = subprocess.run(
        [*pip, "wheel", str(src), "--no-deps", "--no-build-isolation", "--no-index", "--no-cache-dir", "-w", str(work / "dist")],
        capture_output=True, text=True, timeout=600,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (work / "dist").glob("watchfloor-*.whl")
    site = work / "site"
    done = subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "--no-cache-dir", "--target", str(site), str(wheel)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return site


def test_the_wheel_holds_every_module_and_theme(installed):
    source = {p.relative_to(REPO).as_posix() for p in (REPO / "tui").rglob("*.py") if "__pycache__" not in p.parts}
    shipped = {p.relative_to(installed).as_posix() for p in (installed / "tui").rglob("*.py") if "__pycache__" not in p.parts}
    assert shipped == source  # a package missing from pyproject.toml's list shows here
    assert sorted(p.name for p in (installed / "tui" / "themes").iterdir()) == THEME_FILES


def test_an_installed_wheel_runs_the_console_on_its_own_themes(installed, tmp_path):
    found = _run_child(INSTALLED_CHILD, installed, tmp_path)
    assert Path(found["tui"]) == installed / "tui" / "__init__.py"
    assert found["modules"] and all(Path(m).is_relative_to(installed) for m in found["modules"]), found["modules"]
    assert found["theme_files"] == sorted(str(installed / "tui" / "themes" / name) for name in THEME_FILES)
    names = [name.removesuffix(".toml") for name in THEME_FILES]
    assert found["loaded"] == sorted(names)
    for name in names:  # what the console registered is what the files say
        wanted = tomllib.loads((REPO / "themes" / f"{name}.toml").read_text(encoding="utf-8"))["primary"]
        assert found["primaries"][name] == wanted
    assert found["app_theme"] == "dark"


def test_the_editable_install_reads_the_themes_folder_itself():
    from tui.console.themes import THEMES_DIR, load_themes

    assert sorted(Path(p).resolve() for p in THEMES_DIR.iterdir()) == sorted((REPO / "themes").glob("*.toml"))
    assert sorted(load_themes()) == sorted(name.removesuffix(".toml") for name in THEME_FILES)


def test_a_checkout_run_without_installing_finds_themes_beside_tui(tmp_path):
    found = _run_child(CHECKOUT_CHILD, REPO, tmp_path)
    assert Path(found["tui"]) == REPO / "tui" / "__init__.py"
    assert Path(found["themes_dir"]) == REPO / "themes"
    assert found["loaded"] == sorted(name.removesuffix(".toml") for name in THEME_FILES)
