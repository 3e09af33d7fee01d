"""Webhook sink: POST each alert as JSON over httpx (async, injectable transport).

Two bodies:

- ``json`` (generic): ``{"source": "watchfloor", "renotify": false, "text": "...",
  "finding": {<the finding event as the journal stores it>}}``
- ``slack`` (Slack and Mattermost incoming webhooks): ``{"text": "..."}`` — the text is plain,
  with ``&``, ``<`` and ``>`` escaped as Slack requires, so untrusted strings (AS names, DNS
  data) cannot turn into links or mentions.

A 2xx answer is success; 429 and 5xx answers and transport errors are retryable failures;
any other status is a permanent failure (retrying a 404 does not help).
"""

from __future__ import annotations

from typing import Any

import httpx

from tui import __version__
from tui.alerts.base import Alert, SinkError, alert_dict, alert_text

__all__ = ["WebhookSink", "slack_escape", "webhook_body"]


def slack_escape(text: str) -> str:
    """Escape the three characters Slack/Mattermost treat as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_body(alert: Alert, fmt: str) -> dict[str, Any]:
    """The JSON body for ``fmt`` (``json`` or ``slack``)."""
    if fmt == "slack":
        return {"text": slack_escape(alert_text(alert))}
    return alert_dict(alert)


class WebhookSink:
    """POSTs alerts to ``url``; ``transport`` (an httpx transport) is injectable for tests."""

    def __init__(
        self,
        url: str,
        *,
        fmt: str = "json",
        min_severity: str = "warning",
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        name: str | None = None,
    ) -> None:
        if fmt not in ("json", "slack"):
            raise ValueError(f"webhook format must be 'json' or 'slack', not {fmt!r}")
        self.url = url
        self.fmt = fmt
        self.min_severity = min_severity
        self.name = name or f"webhook:{_redacted(url)}"
        self._client = httpx.AsyncClient(
            transport=transport, timeout=timeout, headers={"User-Agent": f"watchfloor/{__version__} (alerts)"}
        )

    async def send(self, alert: Alert) -> None:
        """POST one alert; raises :class:`SinkError` (retryable or not) on failure."""
        try:
            response = await self._client.post(self.url, json=webhook_body(alert, self.fmt))
        except httpx.HTTPError as exc:
            raise SinkError(f"{self.name}: {type(exc).__name__}: {exc}") from None
        if 200 <= response.status_code < 300:
            return
        retry = response.status_code == 429 or response.status_code >= 500
        raise SinkError(f"{self.name}: HTTP {response.status_code}", retry=retry)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


def _redacted(url: str) -> str:
    """The URL without its path: webhook paths are secrets (Slack tokens live there)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "?"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}/…"
