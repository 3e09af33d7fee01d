"""A RIPEstat Data API on loopback serving the real 2017 responses in ../shared/data/ripestat.

Only the ``data`` member was stored; this wraps it in the envelope RIPEstat sends. Two
endpoints had no capture and are derived from real ones (said here so nobody mistakes them):

- ``ris-peers``: the peers of ``risPeerings.json`` (real RIS peers with their real prefix
  counts, per collector), reshaped to ``{"peers": {"rrc00": [{asn, ip, v4_prefix_count,
  v6_prefix_count}]}}``;
- ``ris-full-table-threshold``: the thresholds stated in ``risPeerCount.json`` (500000 v4,
  25000 v6).

``bgp-state`` answers the captured routes when the resource includes 140.78.0.0/16 (what was
captured) and an empty state otherwise. Faults are queued per endpoint (``faults``), or every
call fails while ``down`` is set.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Any

from tests.servers.http_server import Reply, Request, json_reply

FILES = {
    "announced-prefixes": "announcedPrefixes.json",
    "country-resource-list": "countryResourceList.json",
    "bgp-state": "bgpState.json",
    "looking-glass": "lookingGlass.json",
    "routing-status": "routingStatus.json",
    "visibility": "visibility.json",
}


def envelope(endpoint: str, data: Any, status: str = "ok", messages: list | None = None) -> str:
    """The RIPEstat response envelope around ``data``."""
    return json.dumps({
        "messages": messages or [], "see_also": [], "version": "1.0", "data_call_name": endpoint,
        "data_call_status": "supported", "cached": False, "query_id": "test", "process_time": 1,
        "server_id": "loopback", "build_version": "test", "status": status,
        "status_code": 200 if status == "ok" else 400, "time": "2017-07-22T21:15:45", "data": data,
    })


def derived_ris_peers(folder: Path) -> dict[str, Any]:
    """ris-peers data built from the real risPeerings capture."""
    peerings = json.loads((folder / "risPeerings.json").read_text())
    peers: dict[str, list[dict[str, Any]]] = {}
    for probe in peerings["peerings"]:
        rrc = probe["probe"]["name"].lower()
        for peer in probe["peers"]:
            v4 = peer["prefix_count"] if peer["table_version"] == "4" else 0
            v6 = peer["prefix_count"] if peer["table_version"] == "6" else 0
            peers.setdefault(rrc, []).append({"asn": peer["asn"], "ip": peer["ip"], "v4_prefix_count": v4, "v6_prefix_count": v6})
    return {"peers": peers, "query_time": peerings["query_endtime"], "latest_time": peerings["query_endtime"]}


def derived_threshold(folder: Path) -> dict[str, Any]:
    """ris-full-table-threshold data from the thresholds stated in the risPeerCount capture."""
    count = json.loads((folder / "risPeerCount.json").read_text())
    return {"v4": count["v4_full_prefix_threshold"], "v6": count["v6_full_prefix_threshold"],
            "result_time": count["endtime"], "latest_time": count["endtime"]}


class FakeRipestat:
    """The request handler; use with :class:`tests.servers.http_server.LoopbackHTTP`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.faults: dict[str, deque[Reply]] = {}
        self.down: Reply | None = None
        self.data: dict[str, Any] = {name: json.loads((folder / f).read_text()) for name, f in FILES.items()}
        self.data["ris-peers"] = derived_ris_peers(folder)
        self.data["ris-full-table-threshold"] = derived_threshold(folder)

    def fail(self, endpoint: str, *replies: Reply) -> None:
        """Answer the next calls of ``endpoint`` with ``replies`` (then normally)."""
        self.faults.setdefault(endpoint, deque()).extend(replies)

    def __call__(self, request: Request) -> Reply:
        parts = request.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "data" or parts[2] != "data.json":
            return json_reply(envelope("", None, "error", [["error", "no such path"]]), 404)
        endpoint = parts[1]
        if self.down is not None:
            return self.down
        queued = self.faults.get(endpoint)
        if queued:
            return queued.popleft()
        if endpoint not in self.data:
            return json_reply(envelope(endpoint, None, "error", [["error", f"unknown data call {endpoint}"]]), 400)
        data = self.data[endpoint]
        if endpoint == "bgp-state":
            resources = request.query.get("resource", [""])[0].split(",")
            if "140.78.0.0/16" not in resources:
                data = {"bgp_state": [], "query_time": data["query_time"], "resource": ",".join(resources), "nr_routes": 0}
        return json_reply(envelope(endpoint, data))
