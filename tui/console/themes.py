"""Themes as data: each file in ``themes/`` (TOML) becomes a :class:`textual.theme.Theme`.

A theme file holds the fields of :class:`~textual.theme.Theme` (``primary``, ``success``, ...)
and an optional ``[variables]`` table of extra CSS variables. Widgets never name a colour: they
use ``$success``/``$warning``/``$error``/``$accent`` and friends, which these files define.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from pathlib import Path

from textual.theme import Theme

__all__ = ["ThemeError", "THEMES_DIR", "DEFAULT_THEME", "NO_COLOR_THEME", "load_theme", "load_themes", "pick_theme"]

THEMES_DIR = Path(os.environ.get("WATCHFLOOR_THEMES", Path(__file__).resolve().parents[2] / "themes"))
"""Where the theme files live (``$WATCHFLOOR_THEMES`` overrides, for installed copies)."""

DEFAULT_THEME = "dark"
NO_COLOR_THEME = "mono16"

_FIELDS = {f.name for f in dataclasses.fields(Theme)}


class ThemeError(ValueError):
    """A theme file is missing or wrong; the message names the file and the key."""


def load_theme(path: Path) -> Theme:
    """Read one theme file; raises :class:`ThemeError`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ThemeError(f"{path}: cannot read theme: {exc}") from None
    for key in data:
        if key not in _FIELDS:
            close = difflib.get_close_matches(key, sorted(_FIELDS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ThemeError(f"{path}: unknown theme key {key!r}{hint}")
    data.setdefault("name", path.stem)
    if "primary" not in data:
        raise ThemeError(f"{path}: a theme needs at least primary = \"#rrggbb\"")
    try:
        return Theme(**data)
    except TypeError as exc:
        raise ThemeError(f"{path}: {exc}") from None


def load_themes(directory: Path = THEMES_DIR) -> dict[str, Theme]:
    """Every ``*.toml`` theme in ``directory``, by name."""
    themes = {}
    for path in sorted(directory.glob("*.toml")):
        theme = load_theme(path)
        themes[theme.name] = theme
    if not themes:
        raise ThemeError(f"{directory}: no theme files (*.toml) found; set $WATCHFLOOR_THEMES to the themes folder")
    return themes


def pick_theme(requested: str | None, configured: str | None, available: dict[str, Theme], environ: dict[str, str] | None = None) -> str:
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
