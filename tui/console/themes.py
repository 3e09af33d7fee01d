"""Themes as data: each file in ``themes/`` (TOML) becomes a :class:`textual.theme.Theme`.

A theme file holds the fields of :class:`~textual.theme.Theme` (``primary``, ``success``, ...)
and an optional ``[variables]`` table of extra CSS variables. Widgets never name a colour: they
use ``$success``/``$warning``/``$error``/``$accent`` and friends, which these files define.

The top-level ``themes/`` folder is shipped as the data package ``tui.themes`` (pyproject.toml
maps one onto the other), so a wheel install carries the files and an editable install reads
the folder itself; both are found through :mod:`importlib.resources`.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from textual.theme import Theme

__all__ = ["ThemeError", "THEMES_DIR", "DEFAULT_THEME", "NO_COLOR_THEME", "load_theme", "load_themes", "pick_theme"]


def _themes_dir() -> Traversable:
    """``$WATCHFLOOR_THEMES``, else the ``tui.themes`` data package."""
    override = os.environ.get("WATCHFLOOR_THEMES")
    if override:
        return Path(override)
    try:
        return resources.files("tui.themes")
    except ModuleNotFoundError:
        # A checkout run without being installed (PYTHONPATH=.): the folder beside tui/.
        return Path(__file__).resolve().parents[2] / "themes"


THEMES_DIR = _themes_dir()
"""Where the theme files live (``$WATCHFLOOR_THEMES`` points at another folder)."""

DEFAULT_THEME = "dark"
NO_COLOR_THEME = "mono16"

_FIELDS = {f.name for f in dataclasses.fields(Theme)}


class ThemeError(ValueError):
    """A theme file is missing or wrong; the message names the file and the key."""


def load_theme(path: Traversable) -> Theme:
    """Read one theme file (a path, or an entry of the installed package); raises :class:`ThemeError`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ThemeError(f"{path}: cannot read theme: {exc}") from None
    for key in data:
        if key not in _FIELDS:
            close = difflib.get_close_matches(key, sorted(_FIELDS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ThemeError(f"{path}: unknown theme key {key!r}{hint}")
    data.setdefault("name", path.name.removesuffix(".toml"))
    if "primary" not in data:
        raise ThemeError(f"{path}: a theme needs at least primary = \"#rrggbb\"")
    try:
        return Theme(**data)
    except TypeError as exc:
        raise ThemeError(f"{path}: {exc}") from None


def load_themes(directory: Traversable = THEMES_DIR) -> dict[str, Theme]:
    """Every ``*.toml`` theme in ``directory``, by name."""
    themes = {}
    try:
        paths = sorted((p for p in directory.iterdir() if p.name.endswith(".toml") and p.is_file()), key=lambda p: p.name)
    except OSError:
        paths = []  # a missing folder is said below, with what to do
    for path in paths:
        theme = load_theme(path)
        themes[theme.name] = theme
    if not themes:
        raise ThemeError(f"{directory}: no theme files (*.toml) found; set $WATCHFLOOR_THEMES to the themes folder")
    return themes


def pick_theme(
    requested: str | None, configured: str | None, available: dict[str, Theme], environ: dict[str, str] | None = None
) -> str:
    """The theme to use: ``--theme``, else mono16 under NO_COLOR, else the config's, else dark."""
    env = os.environ if environ is None else environ
    if requested:
        name = requested
    elif "NO_COLOR" in env:
        name = NO_COLOR_THEME
    else:
        name = configured or DEFAULT_THEME
    if name not in available:
        raise ThemeError(f"unknown theme {name!r}; choose one of {', '.join(sorted(available))}")
    return name
