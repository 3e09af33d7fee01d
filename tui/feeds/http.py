"""Shared I/O helpers for the network feeds: backoff, polite HTTP retries, an on-disk cache.

Everything slow is injectable: ``sleep`` (an ``async`` callable), ``rand`` (a ``() -> float`` in
[0, 1)) and ``now`` (a clock), so tests step through retries and reconnects without waiting.

Errors, as a tree::

    FeedError                      anything a feed could not do; the message says what and where
     ├── HttpFeedError             an HTTP request failed for good (after retries)
     └── (RipestatError, ...)      defined by the feeds themselves
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import os
import random
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui import __version__

if TYPE_CHECKING:
    import httpx

__all__ = [
    "Backoff",
    "DiskCache",
    "CachedResponse",
    "FeedError",
    "HttpFeedError",
    "RETRYABLE_STATUS",
    "RetryPolicy",
    "Sleep",
    "USER_AGENT",
    "get_with_retries",
    "retry_after_seconds",
    "safe_url",
]

USER_AGENT = f"watchfloor/{__version__} (terminal watch floor for Internet routing and DNS; python-httpx)"
"""Sent on every HTTP request: RIPEstat and CAIDA ask clients to identify themselves."""

Sleep = Callable[[float], Awaitable[None]]

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class FeedError(Exception):
    """A feed could not do what was asked; the message says what failed, where, and what to do."""


class HttpFeedError(FeedError):
    """An HTTP request failed for good (after its retries); ``status`` is None for transport errors."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: ``initial * factor**attempt``, capped, then jittered.

    Jitter spreads reconnects of many clients (``jitter=0.5`` gives 50%..100% of the delay), so a
    service coming back is not hit by everyone at the same instant.
    """

    initial: float = 1.0
    maximum: float = 60.0
    factor: float = 2.0
    jitter: float = 0.5

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before try number ``attempt + 1`` (``attempt`` counts from 0)."""
        try:
            base = min(self.maximum, self.initial * self.factor ** max(0, attempt))
        except OverflowError:  # a feed down for a day has tried over a thousand times: capped long ago
            base = self.maximum
        return base * (1.0 - self.jitter * rand())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try one HTTP request."""

    attempts: int = 4
    """Tries in total (the first plus retries)."""
    backoff: Backoff = Backoff(initial=1.0, maximum=30.0)
    max_retry_after: float = 120.0
    """A server asking to wait longer than this is not waited for: the request fails instead."""


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def safe_url(url: str | httpx.URL) -> str:
    """A URL fit for messages: no user info, no query string (which may hold identifiers)."""
    import httpx  # here, not at the top: the pure RIS Live parser shares this module's Backoff

    parsed = httpx.URL(str(url))
    return str(parsed.copy_with(userinfo=b"", query=None, fragment=None))


async def get_with_retries(
    client: httpx.AsyncClient,
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Sleep = asyncio.sleep,
    rand: Callable[[], float] = random.random,
    now: Callable[[], float] = lambda: 0.0,
    on_retry: Callable[[str], None] | None = None,
) -> httpx.Response:
    """GET ``url``, retrying transport errors, timeouts, 429 and 5xx with backoff.

    A ``Retry-After`` header is honoured (it replaces the computed delay when longer). Returns
    the final response when it is not retryable (a 404 is returned, not raised); raises
    :class:`HttpFeedError` when the last try still failed.
    """
    import httpx  # here, not at the top: the pure RIS Live parser shares this module's Backoff
    last_problem = ""
    last_status: int | None = None
    for attempt in range(policy.attempts):
        wait = policy.backoff.delay(attempt, rand)
        try:
            response = await client.get(url, params=params)
        except httpx.TimeoutException as exc:
            last_problem, last_status = f"timed out ({type(exc).__name__})", None
        except httpx.TransportError as exc:
            last_problem, last_status = f"cannot connect ({type(exc).__name__}: {exc})", None
        else:
            if response.status_code not in RETRYABLE_STATUS:
                return response
            last_status = response.status_code
            last_problem = f"HTTP {response.status_code} {response.reason_phrase}"
            asked = retry_after_seconds(response.headers.get("retry-after"), now())
            if asked is not None:
                if asked > policy.max_retry_after:
                    raise HttpFeedError(
                        f"{safe_url(url)}: {last_problem}, server asks to wait {asked:.0f}s "
                        f"(more than {policy.max_retry_after:.0f}s); try again later",
                        last_status,
                    )
                wait = max(wait, asked)
        if attempt + 1 < policy.attempts:
            if on_retry is not None:
                on_retry(f"{safe_url(url)}: {last_problem}; retry {attempt + 1} in {wait:.1f}s")
            await sleep(wait)
    raise HttpFeedError(f"{safe_url(url)}: {last_problem} (after {policy.attempts} tries)", last_status)


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """A cached JSON body and when it was fetched."""

    body: Any
    fetched: float

    def age(self, now: float) -> float:
        """Seconds since it was fetched."""
        return max(0.0, now - self.fetched)


class DiskCache:
    """JSON responses on disk, one file per request, written atomically, with their fetch time."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @staticmethod
    def key(name: str, params: Mapping[str, Any]) -> str:
        """A stable file-name-safe key for ``name`` called with ``params``."""
        canonical = json.dumps({"name": name, "params": dict(sorted(params.items()))}, sort_keys=True, default=str)
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:24]
        safe_name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
        return f"{safe_name}-{digest}"

    def path(self, key: str) -> Path:
        """Where entry ``key`` lives."""
        return self.root / f"{key}.json"

    def get(self, key: str) -> CachedResponse | None:
        """The cached entry, or None when absent or unreadable (a corrupt file is ignored)."""
        try:
            raw = json.loads(self.path(key).read_text(encoding="utf-8"))
            return CachedResponse(raw["body"], float(raw["fetched"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, body: Any, fetched: float) -> bool:
        """Store ``body``; False when it could not be written (not fatal: the cache is a convenience)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"fetched": fetched, "body": body}, handle)
            os.replace(tmp, self.path(key))
        except OSError:
            return False
        return True
