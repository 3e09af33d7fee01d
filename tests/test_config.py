"""Config errors name the file, the line, the key and what is expected."""

from __future__ import annotations

import pytest

from tui.config import ConfigError, load_config, parse_config
from tui.core.prefixes import Prefix

TWO_WATCHES = """\
theme = "dark"

[[watch]]
name = "A"
prefixes = ["192.0.2.0/24"]

[[watch]]
name = "B"
prefixes = ["198.51.100.0/24"]
"""


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "/etc/wf.toml")
    return str(exc.value)


def test_a_good_config_loads(tmp_path):
    path = tmp_path / "wf.toml"
    path.write_text(TWO_WATCHES + "[journal]\ncheckpoint_interval = 60\ncheckpoint_rows = 500\n")
    config = load_config(path)
    assert config.checkpoint_options()["checkpoint_rows"] == 500
    assert [w.name for w in config.watches] == ["A", "B"]
    assert config.watchlist().prefixes() == [Prefix.parse("192.0.2.0/24"), Prefix.parse("198.51.100.0/24")]
    assert config.checkpoint_interval == 60.0 and config.source == str(path)


def test_unknown_key_gives_line_and_suggestion():
    assert error_of(TWO_WATCHES + 'prefixs = ["x"]\n') == (
        "/etc/wf.toml:10: watch.prefixs: unknown key; did you mean 'prefixes'?"
    )
    assert error_of("them = 'dark'\n") == "/etc/wf.toml:1: them: unknown key; did you mean 'theme'?"
    message = error_of('[[watch]]\nname = "A"\n[watch.thresholds]\nvisibilty_warn = 0.4\n')
    assert message == "/etc/wf.toml:4: watch.thresholds.visibilty_warn: unknown key; did you mean 'visibility_warn'?"


def test_bad_prefix_points_at_the_watch_it_is_in():
    text = TWO_WATCHES.replace('"198.51.100.0/24"', '"198.51.100.0/24", "10.0.0.1/8"')
    message = error_of(text)
    assert message.startswith("/etc/wf.toml:9: watch.prefixes: not an IP prefix: '10.0.0.1/8'")
    assert "e.g. 192.0.2.0/24" in message
    assert error_of('[[watch]]\nname = "x"\nprefixes = ["not-a-prefix"]\n').startswith("/etc/wf.toml:3: watch.prefixes:")


def test_bad_type_says_what_was_expected():
    message = error_of('[dns]\ninterval = "fast"\n')
    assert message.startswith("/etc/wf.toml:2: dns.interval: expected float")
    assert "got str 'fast'" in message
    assert error_of('[[watch]]\nname = "x"\nasns = ["AS1"]\n').startswith("/etc/wf.toml:3: watch.asns: expected list[int]")
    assert error_of("theme = 3\n").startswith("/etc/wf.toml:1: theme: expected str")


@pytest.mark.parametrize(
    "thresholds, line",
    [
        ("thresholds = { visibility_warn = 0.4, visibility_critical = 0.6 }\n", 3),
        ("[watch.thresholds]\nvisibility_warn = 0.4\nvisibility_critical = 0.6\n", 3),
        ("thresholds.visibility_warn = 0.4\nthresholds.visibility_critical = 0.6\n", 3),
    ],
)
def test_threshold_order_is_checked_in_every_toml_spelling(thresholds, line):
    message = error_of('[[watch]]\nname = "x"\n' + thresholds)
    assert message == (
        f"/etc/wf.toml:{line}: watch.thresholds: need 0 <= visibility_critical <= visibility_warn <= 1 "
        "(got critical 0.6, warn 0.4)"
    )


def test_other_values_are_checked_with_their_line():
    assert error_of(TWO_WATCHES.replace('"B"', '"A"')) == (
        "/etc/wf.toml:8: watch.name: watch name 'A' is used twice; names must be unique"
    )
    assert error_of("[journal]\ncheckpoint_interval = 0\n") == (
        "/etc/wf.toml:2: journal.checkpoint_interval: must be more than 0 seconds, got 0"
    )
    assert error_of("[journal]\ncheckpoint_rows = 0\n") == "/etc/wf.toml:2: journal.checkpoint_rows: must be at least 1, got 0"
    text = '[feeds.ripestat]\nurl = "https://stat.example/"\n[feeds.ris_live]\nurl = "http://x"\n'
    assert error_of(text) == "/etc/wf.toml:4: feeds.ris_live.url: 'http://x' is not a ws:// or wss:// URL"
    hooks = '[[alerts.webhooks]]\nurl = "https://a"\n[[alerts.webhooks]]\nurl = "https://b"\nformat = "xml"\n'
    assert error_of(hooks) == '/etc/wf.toml:5: alerts.webhooks.format: must be "json" or "slack"'


def test_broken_toml_and_missing_file(tmp_path):
    assert error_of("x = [\n").startswith("/etc/wf.toml: not valid TOML:")
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.toml")
