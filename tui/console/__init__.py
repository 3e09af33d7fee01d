"""The Textual console: every piece of Textual code in Watchfloor lives in this package.

Headless commands never import it; ``tui.commands.console`` and ``tui.commands.replay`` import
:mod:`tui.console.app` lazily, only when a terminal UI is wanted.
"""
