"""Upstream change: a new AS adjacent to the origin of a watched prefix.

The upstreams of a prefix are the ASes right before its origin in the paths of the sessions
holding it (prepends removed, :func:`tui.core.aspath.upstream_of`). For
``upstream_learning`` seconds after a prefix is first seen its upstreams are learned; after
that an upstream never seen before opens ``upstream_change`` (warning) — the signature of a
route leak, a path hijack, or a new transit (North Korea had exactly one, AS4837). It closes
when no session uses an unlearned upstream any more. A lost upstream alone is not a finding
here: if it costs reachability, the visibility detector says so.
"""

from __future__ import annotations

from typing import Any

from tui.core.aspath import upstream_of
from tui.core.detectors.base import OriginMemory, RoutingDetector, keys_touched, legit_origin, origin_key, peer_text
from tui.core.events import Event, Finding, RouteAnnounced, Severity
from tui.core.prefixes import Prefix

__all__ = ["UpstreamDetector"]


class UpstreamDetector(RoutingDetector):
    """Finding ``upstream_change``."""

    name = "upstream"

    def __init__(self, watchlist: Any, settings: Any = None) -> None:
        super().__init__(watchlist, settings)
        self.subjects: dict[tuple[str, Prefix], dict[str, Any]] = {}
        """(watch, prefix) → {"first_seen": ts, "learned": [upstream keys]}."""
        self.origins = OriginMemory()

    def on_event(self, event: Event, rels: Any, changed: Any, out: list[Finding]) -> None:
        if isinstance(event, RouteAnnounced):
            self.origins.note(event, rels)
            for watch, watched, relation in rels:
                if (watch, event.prefix) in self.subjects:
                    continue
                if relation == "more_specific" and (
                    legit_origin(self.watchlist, watch, event.origin, self.origins.of(watched)) is False
                ):
                    continue  # a hijacked more-specific: the more-specific detector reports it
                self.subjects[(watch, event.prefix)] = {"first_seen": event.ts, "learned": []}
        for key in keys_touched(self.subjects, changed):
            self._judge(key, event.ts, out)

    def _judge(self, key: tuple[str, Prefix], ts: float, out: list[Finding]) -> None:
        watch, prefix = key
        info = self.subjects[key]
        current: dict[str, list[Any]] = {}
        # Unknown sessions keep their routes: a broken feed is not a path change.
        for peer, route in self.table.holders(prefix).items():
            upstream = upstream_of(route.as_path)
            if upstream is not None:
                current.setdefault(origin_key(upstream), []).append(peer)
        learned = set(info["learned"])
        if ts <= info["first_seen"] + self.settings.upstream_learning:
            info["learned"] = sorted(learned | set(current))
            return
        new = sorted(u for u in current if u not in learned)
        if new:
            evidence = {
                "prefix": str(prefix),
                "learned_upstreams": sorted(learned),
                "new_upstreams": {
                    u: {"sessions": len(current[u]), "collectors": sorted({p.collector for p in current[u]}),
                        "example": peer_text(sorted(current[u])[0])}
                    for u in new
                },
                "current_upstreams": {u: len(peers) for u, peers in sorted(current.items())},
            }
            self.emit(out, self.findings.raise_(
                ts, kind="upstream_change", watch=watch, subject=str(prefix), severity=Severity.WARNING,
                summary=f"{prefix} reached through new upstream {', '.join('AS' + u for u in new)} "
                f"(usual: {', '.join('AS' + u for u in sorted(learned)) or 'none learned'})",
                evidence=evidence,
            ))
        else:
            self.emit(out, self.findings.close(
                ts, kind="upstream_change", watch=watch, subject=str(prefix),
                summary=f"{prefix} back to its usual upstreams",
                evidence={"current_upstreams": {u: len(p) for u, p in sorted(current.items())}},
            ))

    def snapshot_own(self) -> dict[str, Any]:
        return {
            "subjects": [[w, str(p), info] for (w, p), info in self.subjects.items()],
            "origins": self.origins.snapshot(),
        }

    def restore_own(self, data: dict[str, Any]) -> None:
        self.subjects = {(w, Prefix.parse(p)): dict(info) for w, p, info in data.get("subjects", ())}
        self.origins.restore(data.get("origins", {}))
