"""Alert sinks: JSON lines, webhooks to a real HTTP server on loopback, dedupe, renotify, retries."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tui.alerts import AlertDispatcher, JsonlSink, WebhookSink, sinks_from_config
from tui.alerts.webhook import slack_escape
from tui.config import parse_config
from tui.core.events import Finding, event_from_dict


class Hook:
    """A real HTTP server on 127.0.0.1 that records POST bodies and answers from a script of statuses."""

    def __init__(self, statuses=()):
        self.bodies: list[dict] = []
        self.statuses = list(statuses)
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                hook.bodies.append(json.loads(self.rfile.read(length)))
                status = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/SECRET"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def finding(ts=100.0, state="open", severity="critical", summary="outage: no full-feed peer sees 175.45.176.0/24",
            fid="outage:NK:175.45.176.0/24:100.000"):
    return Finding(ts, fid, "North Korea", "outage", severity, state, "175.45.176.0/24", summary, 100.0,
                   (("visible", 0), ("full_feed", 12)))


async def no_sleep(_seconds):
    return None


async def test_webhook_generic_and_slack_bodies_reach_a_real_server():
    with Hook() as hook:
        sinks = [WebhookSink(hook.url, fmt="json"), WebhookSink(hook.url, fmt="slack")]
        dispatcher = AlertDispatcher(sinks, renotify=0)
        dispatcher.start()
        hostile = finding(summary="AS name <!channel> & \x1b[31mred")
        assert dispatcher.publish([hostile], now=100) == 2
        await dispatcher.drain()
        await dispatcher.aclose()
    generic = next(b for b in hook.bodies if "finding" in b)
    slack = next(b for b in hook.bodies if set(b) == {"text"})
    assert generic["source"] == "watchfloor" and generic["renotify"] is False
    assert event_from_dict(generic["finding"]) == hostile
    assert "&lt;!channel&gt; &amp;" in slack["text"] and "\x1b" not in slack["text"]
    assert slack["text"].startswith("CRITICAL outage opened [North Korea]:")
    assert all(s.sent == 1 for s in dispatcher.stats.values())


async def test_same_state_is_not_sent_twice_and_open_findings_are_renotified():
    out = io.StringIO()
    dispatcher = AlertDispatcher([JsonlSink(out)], renotify=3600)
    dispatcher.start()
    dispatcher.publish([finding()], now=100)
    dispatcher.publish([finding()], now=101)  # the same state again (e.g. a replayed batch)
    assert dispatcher.tick(now=3000) == 0
    assert dispatcher.tick(now=3800) == 1
    dispatcher.publish([finding(ts=4000, state="close", summary="175.45.176.0/24 reachable again")], now=4000)
    assert dispatcher.tick(now=9000) == 0  # closed: no more reminders
    await dispatcher.aclose()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["state"], line["renotify"]) for line in lines] == [("open", False), ("open", True), ("close", False)]
    assert dispatcher.stats["jsonl"].duplicates == 1


async def test_min_severity_filters_per_dispatcher_and_per_sink():
    loud, quiet = io.StringIO(), io.StringIO()
    dispatcher = AlertDispatcher([JsonlSink(loud, name="loud", min_severity="info"),
                                  JsonlSink(quiet, name="quiet", min_severity="critical")], min_severity="warning")
    dispatcher.start()
    dispatcher.publish([finding(severity="info", fid="i"), finding(severity="warning", fid="w"),
                        finding(severity="critical", fid="c")], now=0)
    await dispatcher.aclose()
    assert [json.loads(x)["finding_id"] for x in loud.getvalue().splitlines()] == ["w", "c"]
    assert [json.loads(x)["finding_id"] for x in quiet.getvalue().splitlines()] == ["c"]


async def test_failures_are_retried_with_backoff_then_reported_never_fatal():
    waits: list[float] = []
    errors: list[str] = []

    async def sleep(seconds):
        waits.append(seconds)

    with Hook(statuses=[500, 503, 200, 404]) as hook:
        dispatcher = AlertDispatcher([WebhookSink(hook.url)], retries=3, backoff=0.5, sleep=sleep, on_error=errors.append)
        dispatcher.start()
        dispatcher.publish([finding(fid="a")], now=0)
        await dispatcher.drain()
        dispatcher.publish([finding(fid="b")], now=1)  # 404: permanent, not retried
        await dispatcher.drain()
        await dispatcher.aclose()
    stats = next(iter(dispatcher.stats.values()))
    assert (stats.sent, stats.failed, stats.retries) == (1, 1, 2)
    assert waits == [0.5, 1.0]
    assert len(errors) == 1 and "HTTP 404" in errors[0] and "SECRET" not in errors[0]


async def test_an_unreachable_hook_gives_up_after_the_retries():
    errors: list[str] = []

    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    sink = WebhookSink("http://127.0.0.1:9/hook", transport=httpx.MockTransport(refuse))
    dispatcher = AlertDispatcher([sink], retries=2, sleep=no_sleep, on_error=errors.append)
    dispatcher.start()
    dispatcher.publish([finding()], now=0)
    await dispatcher.aclose()
    assert "gave up after 3 attempts" in errors[0]


def test_sinks_from_config_and_jsonl_file(tmp_path):
    config = parse_config(f"""
[alerts]
jsonl = "{tmp_path / 'sub' / 'findings.jsonl'}"
min_severity = "info"
[[alerts.webhooks]]
url = "http://127.0.0.1:9/a"
format = "slack"
""")
    sinks = sinks_from_config(config.alerts)
    assert [type(s).__name__ for s in sinks] == ["JsonlSink", "WebhookSink"]
    assert sinks[1].fmt == "slack" and "webhook#1" in sinks[1].name
    assert (tmp_path / "sub" / "findings.jsonl").exists()


def test_slack_escape():
    assert slack_escape("<@U1> & <http://x|y>") == "&lt;@U1&gt; &amp; &lt;http://x|y&gt;"


@pytest.mark.parametrize("fmt", ["xml"])
def test_bad_webhook_format_is_refused(fmt):
    with pytest.raises(ValueError):
        WebhookSink("http://127.0.0.1:9/", fmt=fmt)
