"""The TOML watchlist and settings: loading, checking, and the built-in example.

Where the file is: ``--config PATH``, else ``$WATCHFLOOR_CONFIG``, else
``$XDG_CONFIG_HOME/watchfloor/config.toml`` (``~/.config/watchfloor/config.toml``). With no file
at all, the built-in North Korea watch is used.

Every key is declared in :data:`SCHEMA` with its type and a one-line meaning; the README's key
table holds the same rows (tests/test_readme.py compares them). Unknown keys are refused with
the file, the line and a suggestion: a typo must never silently turn a check off.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.core.prefixes import Prefix, PrefixError
from tui.core.watchlist import NORTH_KOREA, Thresholds, Watch, Watchlist

__all__ = [
    "Config",
    "ConfigError",
    "ZoneConfig",
    "FeedsConfig",
    "DnsConfig",
    "ReplayConfig",
    "AlertsConfig",
    "WebhookConfig",
    "SCHEMA",
    "load_config",
    "default_config_path",
    "builtin_config",
]

ENV_CONFIG = "WATCHFLOOR_CONFIG"


class ConfigError(Exception):
    """The configuration file is missing, unreadable or wrong; the message says where and how."""


# -- schema -------------------------------------------------------------------------------------
# (type, meaning). Types: str, float, int, bool, list[str], list[int], table, list[table].

SCHEMA: dict[str, dict[str, tuple[str, str]]] = {
    "": {
        "theme": ("str", "console theme: dark (default), light, high-contrast, mono16"),
        "watch": ("list[table]", "watches: one [[watch]] table each"),
        "zone": ("list[table]", "per-zone DNS overrides: one [[zone]] table each"),
        "feeds": ("table", "feed settings: [feeds.ris_live], [feeds.ripestat], [feeds.bgpstream]"),
        "dns": ("table", "DNS check scheduling"),
        "journal": ("table", "where and how events are recorded"),
        "alerts": ("table", "alert sinks"),
        "rpki": ("table", "RPKI origin validation"),
        "keys": ("table", 'remapped console keys: action id (as listed by `?`) = key name, e.g. "replay.jump" = "t"'),
        "replay": ("table", "how a replay console opens"),
    },
    "watch": {
        "name": ("str", "name shown in every pane (required, unique)"),
        "prefixes": ("list[str]", "prefixes to watch, IPv4 or IPv6 CIDR"),
        "asns": ("list[int]", "ASNs whose announced prefixes are watched (expanded via RIPEstat)"),
        "countries": ("list[str]", "ISO 3166 alpha-2 codes whose address space is watched"),
        "zones": ("list[str]", 'DNS zones to check, e.g. "kp."'),
        "thresholds": ("table", "per-watch limits: the thresholds.* keys (an inline table or [watch.thresholds])"),
    },
    "watch.thresholds": {
        "visibility_warn": ("float", "share of full-feed peers below which visibility is a warning (0.8)"),
        "visibility_critical": ("float", "share below which it is critical (0.5)"),
        "min_duration": ("float", "seconds a drop must last before it is reported (60)"),
        "hysteresis": ("float", "how far above the threshold visibility must return to close (0.05)"),
        "flap_count": ("int", "withdraw/announce cycles within flap_window that make a flap (3)"),
        "flap_window": ("float", "seconds over which flaps are counted (600)"),
        "dns_latency_warn": ("float", "DNS round trip in seconds above which a server is slow (0.5)"),
    },
    "zone": {
        "name": ("str", 'the zone, e.g. "kp." (required)'),
        "nameservers": ("list[str]", "host:port of authoritative servers; skips NS discovery"),
        "resolvers": ("list[str]", "host:port of recursive resolvers to ask"),
        "doh": ("list[str]", "DNS-over-HTTPS endpoints (URLs) to ask"),
        "records": ("list[str]", '"NAME TYPE" records checked through the resolvers'),
        "parent": (
            "list[str]",
            "host:port of the parent zone's servers, asked for the delegation (default: found via the resolvers)",
        ),
        "port": ("int", "port the discovered nameservers are asked on (53)"),
    },
    "feeds": {
        "ris_live": ("table", "RIS Live websocket"),
        "ripestat": ("table", "RIPEstat Data API"),
        "bgpstream": ("table", "BGPStream broker"),
    },
    "feeds.ris_live": {
        "url": ("str", "websocket URL (wss://ris-live.ripe.net/v1/ws/)"),
        "client": ("str", "client identifier sent to RIS Live (watchfloor)"),
        "enabled": ("bool", "connect at all (true)"),
        "beacons": ("list[str]", "RIS beacon prefixes subscribed as a health canary"),
    },
    "feeds.ripestat": {
        "url": ("str", "Data API base URL (https://stat.ripe.net/data/)"),
        "sourceapp": ("str", "sourceapp parameter identifying this tool (watchfloor)"),
        "enabled": ("bool", "query RIPEstat at start (true)"),
        "cache_dir": ("str", "where responses are cached (XDG cache dir)"),
        "timeout": ("float", "seconds per request (30)"),
    },
    "feeds.bgpstream": {
        "broker": ("str", "broker URL (https://broker.bgpstream.caida.org/v2/)"),
        "cache_dir": ("str", "where downloaded dump files are kept (XDG cache dir)"),
        "collectors": ("list[str]", "default collectors for archive replays"),
    },
    "dns": {
        "interval": ("float", "seconds between UDP rounds, jittered (60)"),
        "tcp_interval": ("float", "seconds between TCP rounds (300)"),
        "timeout": ("float", "seconds before a query times out (2.0)"),
        "retries": ("int", "extra UDP tries before a timeout counts (1)"),
        "concurrency": ("int", "queries in flight at once (16)"),
        "jitter": ("float", "share of the interval used as random jitter (0.1)"),
    },
    "journal": {
        "path": ("str", "SQLite journal file (XDG data dir)"),
        "checkpoint_interval": ("float", "seconds of data between route-state checkpoints (300)"),
        "checkpoint_changes": ("int", "route changes between route-state checkpoints, whichever comes first (50000)"),
        "checkpoint_rows": ("int", "rows between them at most: a checkpoint of what changed since the last whole one (2000)"),
    },
    "alerts": {
        "jsonl": ("str", 'file to append findings to as JSON lines ("-" for stdout)'),
        "webhooks": ("list[table]", "webhook targets: one [[alerts.webhooks]] table each"),
        "renotify": ("float", "seconds before an unchanged open finding is sent again (3600)"),
        "min_severity": ("str", "least severity sent to sinks: info, warning (default), critical"),
    },
    "alerts.webhooks": {
        "url": ("str", "where to POST (required)"),
        "format": ("str", '"json" (default) or "slack" (Slack/Mattermost-compatible)'),
        "min_severity": ("str", "least severity sent to this hook"),
    },
    "rpki": {
        "vrp_file": ("str", "rpki-client or Routinator JSON export of validated ROA payloads"),
    },
    "replay": {
        "autoplay": (
            "bool",
            "start playing as soon as the replay console opens (false: it waits, paused, saying which key plays)",
        ),
        "speed": ("float", "speed it opens at: times real time, 1 (default) to 1000, or inf for as fast as possible"),
    },
}

_SEVERITIES = ("info", "warning", "critical")
_THEMES = ("dark", "light", "high-contrast", "mono16")


# -- the typed result ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ZoneConfig:
    """DNS settings for one zone (discovery used for whatever is not given)."""

    name: str
    nameservers: tuple[str, ...] = ()
    resolvers: tuple[str, ...] = ()
    doh: tuple[str, ...] = ()
    records: tuple[str, ...] = ()
    parent: tuple[str, ...] = ()
    """host:port of the parent zone's servers (NS delegation is asked there)."""
    port: int = 53
    """Port used for nameserver addresses found by discovery."""


@dataclass(frozen=True)
class FeedsConfig:
    """Feed endpoints and switches."""

    ris_live_url: str = "wss://ris-live.ripe.net/v1/ws/"
    ris_live_client: str = "watchfloor"
    ris_live_enabled: bool = True
    ris_live_beacons: tuple[str, ...] = ("84.205.64.0/24", "84.205.80.0/24", "2001:7fb:fe00::/48")
    ripestat_url: str = "https://stat.ripe.net/data/"
    ripestat_sourceapp: str = "watchfloor"
    ripestat_enabled: bool = True
    ripestat_cache_dir: str = ""
    ripestat_timeout: float = 30.0
    bgpstream_broker: str = "https://broker.bgpstream.caida.org/v2/"
    bgpstream_cache_dir: str = ""
    bgpstream_collectors: tuple[str, ...] = ()


@dataclass(frozen=True)
class DnsConfig:
    """DNS check scheduling."""

    interval: float = 60.0
    tcp_interval: float = 300.0
    timeout: float = 2.0
    retries: int = 1
    concurrency: int = 16
    jitter: float = 0.1


@dataclass(frozen=True)
class ReplayConfig:
    """How the replay console opens."""

    autoplay: bool = False
    speed: float = 1.0
    """Times real time; ``inf`` is as fast as possible."""


@dataclass(frozen=True)
class WebhookConfig:
    """One webhook target."""

    url: str
    format: str = "json"
    min_severity: str = "warning"


@dataclass(frozen=True)
class AlertsConfig:
    """Where findings are sent besides the console."""

    jsonl: str = ""
    webhooks: tuple[WebhookConfig, ...] = ()
    renotify: float = 3600.0
    min_severity: str = "warning"


@dataclass(frozen=True)
class Config:
    """Everything from the config file, with defaults filled in."""

    watches: tuple[Watch, ...]
    zones: tuple[ZoneConfig, ...] = ()
    theme: str = "dark"
    feeds: FeedsConfig = field(default_factory=FeedsConfig)
    dns: DnsConfig = field(default_factory=DnsConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    journal_path: str = ""
    checkpoint_interval: float = 300.0
    checkpoint_changes: int = 50_000
    checkpoint_rows: int = 2_000
    rpki_vrp_file: str = ""
    keys: dict[str, str] = field(default_factory=dict)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    source: str = "built-in example"
    """Where this configuration came from (a path, or "built-in example")."""

    def watchlist(self) -> Watchlist:
        """A fresh :class:`Watchlist` of these watches."""
        return Watchlist(self.watches)

    def checkpoint_options(self) -> dict[str, float | int]:
        """``[journal]``'s checkpoint spacing, as the journal writer's keyword arguments."""
        return {
            "checkpoint_interval": self.checkpoint_interval,
            "checkpoint_changes": self.checkpoint_changes,
            "checkpoint_rows": self.checkpoint_rows,
        }

    def zone(self, name: str) -> ZoneConfig:
        """The settings of zone ``name`` (empty overrides when not configured)."""
        wanted = _normalise_zone(name)
        for zone in self.zones:
            if zone.name == wanted:
                return zone
        return ZoneConfig(wanted)

    def all_zones(self) -> list[ZoneConfig]:
        """Every zone a watch names or a [[zone]] table configures."""
        names = [z for w in self.watches for z in w.zones] + [z.name for z in self.zones]
        seen: dict[str, ZoneConfig] = {}
        for name in names:
            seen.setdefault(_normalise_zone(name), self.zone(name))
        return list(seen.values())


def builtin_config() -> Config:
    """The configuration used when there is no file: the North Korea example."""
    return Config(watches=(NORTH_KOREA,))


def default_config_path() -> Path:
    """``$WATCHFLOOR_CONFIG``, else the XDG config location."""
    env = os.environ.get(ENV_CONFIG)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "watchfloor" / "config.toml"


def default_data_dir() -> Path:
    """Where journals live by default (``$XDG_DATA_HOME/watchfloor``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "watchfloor"


def default_cache_dir() -> Path:
    """Where downloads and API responses are cached (``$XDG_CACHE_HOME/watchfloor``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "watchfloor"


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the config from ``path`` (or the default location); raise :class:`ConfigError`.

    An explicitly named file must exist; a missing default file means the built-in example.
    """
    explicit = path is not None or bool(os.environ.get(ENV_CONFIG))
    file = Path(path).expanduser() if path is not None else default_config_path()
    if not file.exists():
        if explicit:
            raise ConfigError(f"{file}: no such config file (check --config or ${ENV_CONFIG})")
        return builtin_config()
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    return parse_config(text, str(file))


def parse_config(text: str, filename: str = "<config>") -> Config:
    """Parse and check config ``text``; ``filename`` is used in messages."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{filename}: not valid TOML: {exc}") from None
    return _Checker(text, filename).build(raw)


class _Checker:
    """Walks the parsed TOML against :data:`SCHEMA`, locating problems in the text."""

    def __init__(self, text: str, filename: str) -> None:
        self.lines = text.splitlines()
        self.filename = filename
        self._index: dict[str, int] = {}
        """Which [[array]] table is being checked (for line numbers)."""

    def line_of(self, key: str, section: str = "", array: str = "", occurrence: int | None = None) -> int | None:
        """Best-effort line number of ``key`` inside ``section`` (top level when empty).

        With ``array``/``occurrence``, only the ``occurrence``-th ``[[array]]`` table (and the
        sub-tables that follow it) is searched, so an error in the second ``[[watch]]`` points
        at the second watch. Finds ``key = ``, ``key.sub = `` (dotted), ``{ key = `` (inline)
        and a ``[section.key]`` header.
        """
        in_section = section == ""
        seen = -1
        header = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
        key_re = re.compile(rf"^\s*{re.escape(key)}\s*[=.]|[{{,]\s*{re.escape(key)}\s*=")
        for number, line in enumerate(self.lines, 1):
            m = header.match(line)
            if m:
                name = m.group(2)
                if array and m.group(1) == "[[" and name == array:
                    seen += 1
                inside = bool(section) and (name == section or name.startswith(section + "."))
                in_section = inside and (occurrence is None or seen == occurrence)
                if in_section and name != section and name.split(".")[-1] == key:
                    return number
                continue
            if in_section and key_re.search(line):
                return number
        return None

    def _array_of(self, section: str) -> str:
        """The array of tables ``section`` lives in (``watch`` for ``watch.thresholds``), or ""."""
        parts = section.split(".") if section else []
        for end in range(len(parts), 0, -1):
            parent = ".".join(parts[: end - 1])
            if SCHEMA.get(parent, {}).get(parts[end - 1], ("",))[0] == "list[table]":
                return ".".join(parts[:end])
        return ""

    def fail(self, section: str, key: str, message: str) -> ConfigError:
        last = key.split(".")[-1]
        array = self._array_of(section)
        occurrence = self._index.get(array) if array else None
        line = self.line_of(last, section, array, occurrence)
        if line is None and "." in section:
            # Inline or dotted form inside the parent table: thresholds = { visibility_warn = ... }
            parent, child = section.rsplit(".", 1)
            line = self.line_of(last, parent, array, occurrence) or self.line_of(child, parent, array, occurrence)
        where = f"{self.filename}:{line}" if line else self.filename
        dotted = f"{section}.{key}" if section else key
        return ConfigError(f"{where}: {dotted}: {message}")

    def check_keys(self, table: dict[str, Any], section: str) -> None:
        allowed = SCHEMA[section]
        for key, value in table.items():
            if key not in allowed:
                close = difflib.get_close_matches(key, list(allowed), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(allowed)}"
                raise self.fail(section, key, f"unknown key{hint}")
            kind, meaning = allowed[key]
            if not _type_ok(kind, value):
                raise self.fail(section, key, f"expected {kind} ({meaning}), got {type(value).__name__} {value!r}")

    def build(self, raw: dict[str, Any]) -> Config:
        self.check_keys(raw, "")
        watches = tuple(self.watch(item, i) for i, item in enumerate(raw.get("watch", [])))
        names = [w.name for w in watches]
        for index, name in enumerate(names):
            if name in names[:index]:
                self._index["watch"] = index
                raise self.fail("watch", "name", f"watch name {name!r} is used twice; names must be unique")
        zones = []
        for index, item in enumerate(raw.get("zone", [])):
            self._index["zone"] = index
            zones.append(self.zone(item))
        feeds = self.feeds(raw.get("feeds", {}))
        dns = raw.get("dns", {})
        self.check_keys(dns, "dns")
        for key in ("interval", "tcp_interval", "timeout"):
            if key in dns and dns[key] <= 0:
                raise self.fail("dns", key, f"must be more than 0, got {dns[key]}")
        journal = raw.get("journal", {})
        self.check_keys(journal, "journal")
        if journal.get("checkpoint_interval", 1.0) <= 0:
            raise self.fail(
                "journal", "checkpoint_interval", f"must be more than 0 seconds, got {journal['checkpoint_interval']}"
            )
        if journal.get("checkpoint_changes", 1) < 1:
            raise self.fail("journal", "checkpoint_changes", f"must be at least 1, got {journal['checkpoint_changes']}")
        if journal.get("checkpoint_rows", 1) < 1:
            raise self.fail("journal", "checkpoint_rows", f"must be at least 1, got {journal['checkpoint_rows']}")
        rpki = raw.get("rpki", {})
        self.check_keys(rpki, "rpki")
        replay = raw.get("replay", {})
        self.check_keys(replay, "replay")
        speed = float(replay.get("speed", 1.0))
        if not speed > 0:  # also refuses nan
            raise self.fail("replay", "speed", f"must be more than 0 (inf for as fast as possible), got {speed}")
        theme = raw.get("theme", "dark")
        if theme not in _THEMES:
            raise self.fail("", "theme", f"unknown theme {theme!r}; choose one of {', '.join(_THEMES)}")
        keys = raw.get("keys", {})
        for action, key in keys.items():
            if not isinstance(key, str) or not key:
                raise self.fail("keys", action, f"expected a key name like \"ctrl+r\", got {key!r}")
        return Config(
            watches=watches or (NORTH_KOREA,),
            zones=tuple(zones),
            theme=theme,
            feeds=feeds,
            dns=DnsConfig(**{k: type(getattr(DnsConfig, k))(v) for k, v in dns.items()}),
            alerts=self.alerts(raw.get("alerts", {})),
            journal_path=journal.get("path", ""),
            checkpoint_interval=float(journal.get("checkpoint_interval", 300.0)),
            checkpoint_changes=int(journal.get("checkpoint_changes", 50_000)),
            checkpoint_rows=int(journal.get("checkpoint_rows", 2_000)),
            rpki_vrp_file=rpki.get("vrp_file", ""),
            keys=dict(keys),
            replay=ReplayConfig(autoplay=replay.get("autoplay", False), speed=speed),
            source=self.filename,
        )

    def watch(self, item: dict[str, Any], index: int) -> Watch:
        self._index["watch"] = index
        self.check_keys(item, "watch")
        if "name" not in item:
            raise self.fail("watch", "name", f"watch #{index + 1} has no name; add name = \"...\"")
        prefixes = []
        for text in item.get("prefixes", []):
            try:
                prefixes.append(Prefix.parse(text, strict=True))
            except PrefixError as exc:
                raise self.fail(
                    "watch", "prefixes", f"{exc}; write a network address with its length, e.g. 192.0.2.0/24"
                ) from None
        for asn in item.get("asns", []):
            if not 0 < asn <= 0xFFFFFFFF:
                raise self.fail("watch", "asns", f"ASN {asn} out of range 1..4294967295")
        countries = []
        for cc in item.get("countries", []):
            if not re.fullmatch(r"[A-Za-z]{2}", cc):
                raise self.fail("watch", "countries", f"{cc!r} is not an ISO 3166 alpha-2 code like \"KP\"")
            countries.append(cc.upper())
        thresholds_raw = item.get("thresholds", {})
        self.check_keys(thresholds_raw, "watch.thresholds")
        thresholds = Thresholds(**{k: type(getattr(Thresholds(), k))(v) for k, v in thresholds_raw.items()})
        if not 0 <= thresholds.visibility_critical <= thresholds.visibility_warn <= 1:
            raise self.fail(
                "watch", "thresholds",
                "need 0 <= visibility_critical <= visibility_warn <= 1 "
                f"(got critical {thresholds.visibility_critical}, warn {thresholds.visibility_warn})",
            )
        return Watch(
            name=item["name"],
            prefixes=tuple(prefixes),
            asns=tuple(item.get("asns", [])),
            countries=tuple(countries),
            zones=tuple(_normalise_zone(z) for z in item.get("zones", [])),
            thresholds=thresholds,
        )

    def zone(self, item: dict[str, Any]) -> ZoneConfig:
        self.check_keys(item, "zone")
        if "name" not in item:
            raise self.fail("zone", "name", "a [[zone]] table needs name = \"example.\"")
        for key in ("nameservers", "resolvers", "parent"):
            for hostport in item.get(key, []):
                if _split_hostport(hostport) is None:
                    raise self.fail("zone", key, f"{hostport!r} is not host:port (use [::1]:53 for IPv6)")
        for record in item.get("records", []):
            if len(record.split()) != 2:
                raise self.fail("zone", "records", f"{record!r} should be \"NAME TYPE\", e.g. \"www.kp. A\"")
        for url in item.get("doh", []):
            if not url.startswith(("http://", "https://")):
                raise self.fail("zone", "doh", f"{url!r} is not an http(s) URL")
        return ZoneConfig(
            name=_normalise_zone(item["name"]),
            nameservers=tuple(item.get("nameservers", [])),
            resolvers=tuple(item.get("resolvers", [])),
            doh=tuple(item.get("doh", [])),
            records=tuple(item.get("records", [])),
            parent=tuple(item.get("parent", [])),
            port=self.zone_port(item),
        )

    def zone_port(self, item: dict[str, Any]) -> int:
        port = item.get("port", 53)
        if not 0 < port < 65536:
            raise self.fail("zone", "port", f"port {port} out of range 1..65535")
        return int(port)

    def feeds(self, raw: dict[str, Any]) -> FeedsConfig:
        self.check_keys(raw, "feeds")
        values: dict[str, Any] = {}
        for feed in ("ris_live", "ripestat", "bgpstream"):
            table = raw.get(feed, {})
            self.check_keys(table, f"feeds.{feed}")
            for key, value in table.items():
                if feed == "bgpstream" and key == "broker":
                    values["bgpstream_broker"] = value
                else:
                    values[f"{feed}_{key}"] = tuple(value) if isinstance(value, list) else value
        for key in ("ris_live_url",):
            if key in values and not values[key].startswith(("ws://", "wss://")):
                raise self.fail("feeds.ris_live", "url", f"{values[key]!r} is not a ws:// or wss:// URL")
        for key, section in (("ripestat_url", "feeds.ripestat"), ("bgpstream_broker", "feeds.bgpstream")):
            if key in values and not values[key].startswith(("http://", "https://")):
                raise self.fail(section, key.split("_", 1)[1], f"{values[key]!r} is not an http(s) URL")
        return FeedsConfig(**values)

    def alerts(self, raw: dict[str, Any]) -> AlertsConfig:
        self.check_keys(raw, "alerts")
        hooks = []
        for index, hook in enumerate(raw.get("webhooks", [])):
            self._index["alerts.webhooks"] = index
            self.check_keys(hook, "alerts.webhooks")
            if "url" not in hook:
                raise self.fail("alerts.webhooks", "url", "each [[alerts.webhooks]] needs url = \"https://...\"")
            if hook.get("format", "json") not in ("json", "slack"):
                raise self.fail("alerts.webhooks", "format", "must be \"json\" or \"slack\"")
            if hook.get("min_severity", "warning") not in _SEVERITIES:
                raise self.fail("alerts.webhooks", "min_severity", f"must be one of {', '.join(_SEVERITIES)}")
            hooks.append(WebhookConfig(**hook))
        if raw.get("min_severity", "warning") not in _SEVERITIES:
            raise self.fail("alerts", "min_severity", f"must be one of {', '.join(_SEVERITIES)}")
        return AlertsConfig(
            jsonl=raw.get("jsonl", ""),
            webhooks=tuple(hooks),
            renotify=float(raw.get("renotify", 3600.0)),
            min_severity=raw.get("min_severity", "warning"),
        )


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "table":
        return isinstance(value, dict)
    if kind == "list[table]":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if kind == "list[str]":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "list[int]":
        return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    return False


def _normalise_zone(name: str) -> str:
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


def _split_hostport(text: str) -> tuple[str, int] | None:
    """``"127.0.0.1:5353"`` → (host, port); ``"[::1]:53"`` for IPv6; a bare host means port 53."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d+))?|([^:\[\]]+)(?::(\d+))?", text.strip())
    if not m:
        return None
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4) or 53)
    if not 0 < port < 65536:
        return None
    return host, port


split_hostport = _split_hostport
