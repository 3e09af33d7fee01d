"""Untrusted strings made inert for the terminal.

AS names, communities, DNS answers and feed error strings come from the network. They are shown
as :class:`rich.text.Text` built from plain strings (so ``[red]`` is never read as markup), and
control characters are replaced by visible stand-ins first (so ``ESC [2J`` can never clear the
screen or ``ESC ]0;`` retitle the terminal). Bidirectional overrides are replaced too: they can
make a path read backwards.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

__all__ = ["clean", "plain", "shorten"]

_BIDI = {0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def _visible(code: int) -> str:
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control picture": ESC shows as ␛
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"


def _build_table() -> dict[int, str]:
    table = {code: _visible(code) for code in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))}
    table.update({code: "\ufffd" for code in _BIDI})
    return table


_TABLE = _build_table()


def clean(value: object) -> str:
    """``value`` as a string with every control character replaced by a visible stand-in."""
    return str(value).translate(_TABLE)


def plain(value: object, style: Style | str = "") -> Text:
    """A Text showing ``value`` literally: no markup, no escapes."""
    return Text(clean(value), style=style, no_wrap=True, overflow="ellipsis")


def shorten(value: str, width: int) -> str:
    """``value`` cut to ``width`` characters with an ellipsis."""
    return value if len(value) <= width else value[: max(0, width - 1)] + "…"
