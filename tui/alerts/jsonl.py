"""JSON lines sink: one object per finding state, appended to a file or written to stdout."""

from __future__ import annotations

import json
import sys
from os import PathLike
from pathlib import Path
from typing import IO

from tui.alerts.base import Alert, SinkError
from tui.core.events import event_to_dict

__all__ = ["JsonlSink"]


class JsonlSink:
    """Writes ``{"kind": "finding", ..., "renotify": false}`` lines; ``"-"`` means stdout.

    Each line is the finding event exactly as the journal stores it (:func:`event_to_dict`)
    plus ``renotify``, so ``jq`` scripts can read both the same way. Lines are flushed one by
    one: a consumer tailing the file sees each finding as it happens.
    """

    def __init__(self, target: str | PathLike[str] | IO[str], *, min_severity: str = "info", name: str | None = None) -> None:
        self.min_severity = min_severity
        self._own = False
        if isinstance(target, str | PathLike):
            if str(target) == "-":
                self._out: IO[str] = sys.stdout
                self.name = name or "jsonl:stdout"
            else:
                path = Path(target).expanduser()
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    self._out = path.open("a", encoding="utf-8")
                except OSError as exc:
                    raise SinkError(f"cannot open {path} for JSON lines: {exc}", retry=False) from None
                self._own = True
                self.name = name or f"jsonl:{path}"
        else:
            self._out = target
            self.name = name or "jsonl"

    async def send(self, alert: Alert) -> None:
        """Write one line (ensure_ascii keeps terminal escapes in untrusted text inert)."""
        record = event_to_dict(alert.finding)
        record["renotify"] = alert.renotify
        try:
            self._out.write(json.dumps(record, separators=(",", ":"), ensure_ascii=True) + "\n")
            self._out.flush()
        except (OSError, ValueError) as exc:
            raise SinkError(f"{self.name}: write failed: {exc}") from None

    async def aclose(self) -> None:
        """Close the file (stdout is left open)."""
        if self._own:
            self._out.close()
