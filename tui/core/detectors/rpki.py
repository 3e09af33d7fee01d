"""RPKI origin validation of the routes a watch cares about (when a VRP file is configured).

Every (prefix, origin) held by a session that is up is validated (:mod:`tui.core.rpki`):
``rpki_invalid`` opens per (prefix, origin) while any session holds an invalid route —
critical when the origin is not authorised at all (``invalid_asn``), warning when only the
prefix length exceeds the ROA's maxLength (``invalid_length``). It closes when no session
holds that route any more. ``not_found`` and ``valid`` raise nothing.
"""

from __future__ import annotations

from typing import Any

from tui.core.detectors.base import ALL_PREFIXES, RoutingDetector, origin_from_key, sessions_per_collector
from tui.core.events import Event, Finding, RouteAnnounced, Severity
from tui.core.prefixes import Prefix
from tui.core.rpki import INVALID_ASN, VrpSet

__all__ = ["RpkiDetector"]


class RpkiDetector(RoutingDetector):
    """Finding ``rpki_invalid``."""

    name = "rpki"

    def __init__(self, watchlist: Any, vrps: VrpSet, settings: Any = None) -> None:
        super().__init__(watchlist, settings)
        self.vrps = vrps
        self.watches: dict[Prefix, set[str]] = {}

    def on_event(self, event: Event, rels: Any, changed: Any, out: list[Finding]) -> None:
        if isinstance(event, RouteAnnounced):
            for watch, _, _ in rels:
                self.watches.setdefault(event.prefix, set()).add(watch)
        if changed is None:
            return
        prefixes = list(self.watches) if changed is ALL_PREFIXES else [p for p in changed if p in self.watches]
        for prefix in sorted(prefixes, key=Prefix.sort_key):
            self._judge(prefix, event.ts, out)

    def _judge(self, prefix: Prefix, ts: float, out: list[Finding]) -> None:
        origins = self.table.origins(prefix)
        invalid: dict[str, tuple[str, list[Any], list[dict[str, Any]]]] = {}
        for key, peers in origins.items():
            result = self.vrps.validate(prefix, origin_from_key(key))
            if result.invalid:
                invalid[key] = (result.state, peers, [v.as_dict() for v in result.covering])
        for watch in sorted(self.watches.get(prefix, ())):
            for key, (state, peers, covering) in sorted(invalid.items()):
                why = "origin not authorised" if state == INVALID_ASN else "longer than the ROA's maxLength"
                self.emit(out, self.findings.raise_(
                    ts, kind="rpki_invalid", watch=watch, subject=f"{prefix} AS{key}",
                    severity=Severity.CRITICAL if state == INVALID_ASN else Severity.WARNING,
                    summary=f"RPKI {state}: {prefix} originated by AS{key} ({why})",
                    evidence={"prefix": str(prefix), "origin": key, "state": state, "vrps": covering,
                              "sessions": len(peers), "collectors": sessions_per_collector(peers)},
                ))
            out.extend(self.findings.close_gone_origins(
                ts, kind="rpki_invalid", watch=watch, prefix=prefix, present=invalid,
                summary=lambda origin: f"RPKI-invalid route {prefix} AS{origin} no longer held by any session",
            ))

    def snapshot_own(self) -> dict[str, Any]:
        return {"watches": {str(p): sorted(w) for p, w in self.watches.items()}}

    def restore_own(self, data: dict[str, Any]) -> None:
        self.watches = {Prefix.parse(p): set(w) for p, w in data.get("watches", {}).items()}
