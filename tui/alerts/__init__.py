"""Alert sinks: where findings go besides the console's event log.

- :class:`~tui.alerts.jsonl.JsonlSink`: one JSON object per finding state, to a file or stdout;
- :class:`~tui.alerts.webhook.WebhookSink`: an HTTP POST per finding state (httpx, async), with
  a generic JSON body or a Slack/Mattermost-compatible ``{"text": ...}``;
- :class:`~tui.alerts.dispatch.AlertDispatcher`: filters by severity, drops repeats of the same
  finding state, re-notifies still-open findings every ``renotify`` seconds, and delivers to
  each sink from its own queue with retries and backoff — a failing sink is reported and
  counted, never fatal, and never holds up the engine or the other sinks.
"""

from __future__ import annotations

from tui.alerts.base import Alert, Sink, SinkError, alert_text
from tui.alerts.dispatch import AlertDispatcher, SinkStats, sinks_from_config
from tui.alerts.jsonl import JsonlSink
from tui.alerts.webhook import WebhookSink

__all__ = [
    "Alert",
    "AlertDispatcher",
    "JsonlSink",
    "Sink",
    "SinkError",
    "SinkStats",
    "WebhookSink",
    "alert_text",
    "sinks_from_config",
]
