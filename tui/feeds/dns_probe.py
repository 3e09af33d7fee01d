"""DNS probes: nameserver discovery, SOA checks, resolver and DoH checks, and their scheduling.

The I/O shell around dnspython (UDP/TCP) and httpx (DNS-over-HTTPS). What comes back is turned
into :class:`~tui.core.events.DnsProbeResult` events by pure functions (:func:`classify_response`,
:func:`delegation_from_response`), pushed to the engine in batches, journaled and replayable; the
states, serial comparisons and findings are computed from those events in :mod:`tui.core.dns` and
:mod:`tui.core.detectors.dns`.

Per zone (:class:`DnsProber`):

1. Nameservers: ``[[zone]].nameservers`` when given; otherwise discovered. The parent zone's
   servers (``[[zone]].parent``, or found through the resolvers) are asked for the zone's NS
   set without recursion (role ``parent``), glue is taken from the referral, missing addresses
   (A and AAAA) are asked of the resolvers, and every address is asked for the NS set as the
   zone itself publishes it (role ``child``). The two are compared in the core.
2. Every nameserver address is asked for the zone's SOA over UDP every ``dns.interval`` and
   over TCP every ``dns.tcp_interval`` (role ``authoritative``), without recursion: rcode, AA
   flag, latency, serial. A truncated UDP answer is asked again over TCP.
3. Every ``[[zone]].records`` entry (default: the zone's SOA) is asked through every resolver
   (role ``resolver``, with recursion) and every DoH endpoint (role ``doh``, RFC 8484 POST, or
   GET when the URL ends in ``{?dns}``).

Each check is rescheduled at its interval with ``dns.jitter`` random spread; UDP tries
``dns.retries`` extra times before a timeout counts; at most ``dns.concurrency`` queries are in
flight. The query functions, HTTP client, clock, sleep, timer and random source are injectable.

Failure outcomes: ``timeout``, ``refused`` (rcode REFUSED), ``servfail``, ``nxdomain``, ``lame``
(answered without the AA flag), ``unreachable`` (connection refused, no route), ``error``
(anything else, with ``detail``). Nothing here raises for a bad answer: it becomes an outcome.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import ipaddress
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import httpx

from tui.config import DnsConfig, ZoneConfig, split_hostport
from tui.core.clock import Clock, SystemClock
from tui.core.dns import ROLE_AUTHORITATIVE, ROLE_CHILD, ROLE_DOH, ROLE_PARENT, ROLE_RESOLVER
from tui.core.events import DnsProbeResult

__all__ = [
    "Check",
    "DnsProbeError",
    "DnsProber",
    "Endpoint",
    "ProbeSettings",
    "ResponseInfo",
    "ZonePlan",
    "classify_response",
    "delegation_from_response",
    "doh_request",
    "parse_record",
    "system_resolvers",
]

QueryFn = Callable[..., Awaitable[dns.message.Message]]
"""dnspython's ``dns.asyncquery.udp``/``tcp`` signature: ``(q, where, timeout=, port=)``."""
Push = Callable[[list[DnsProbeResult]], Any]
"""Where batches go (``engine.ingest``, a queue's ``put``): may return an awaitable."""

MAX_ANSWERS = 32
MAX_ANSWER_CHARS = 255
DOH_CONTENT_TYPE = "application/dns-message"
USER_AGENT = "watchfloor-dns-probe (terminal watch floor for Internet routing and DNS)"


class DnsProbeError(ValueError):
    """A DNS check is configured in a way that cannot work (bad record type, bad address)."""


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """Scheduling and patience, usually from ``[dns]``."""

    interval: float = 60.0
    tcp_interval: float = 300.0
    timeout: float = 2.0
    retries: int = 1
    concurrency: int = 16
    jitter: float = 0.1
    rediscover: float | None = None
    """Seconds between NS discoveries (default: ``tcp_interval``)."""

    @classmethod
    def from_config(cls, dns_config: DnsConfig, *, timeout: float | None = None) -> ProbeSettings:
        """Settings from the ``[dns]`` table, with an optional timeout override."""
        return cls(
            interval=dns_config.interval,
            tcp_interval=dns_config.tcp_interval,
            timeout=dns_config.timeout if timeout is None else timeout,
            retries=max(0, dns_config.retries),
            concurrency=max(1, dns_config.concurrency),
            jitter=min(max(dns_config.jitter, 0.0), 0.9),
        )


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One nameserver address: its name (NS target or configured host), address and port."""

    name: str
    address: str
    port: int


@dataclass(frozen=True, slots=True)
class Check:
    """One scheduled question: the same fields as the results it produces."""

    zone: str
    role: str
    server: str
    address: str
    port: int
    transport: str
    qname: str
    qtype: str


@dataclass(slots=True)
class ZonePlan:
    """What discovery found for a zone: the servers to probe and the NS answers seen."""

    zone: str
    servers: list[Endpoint] = field(default_factory=list)
    events: list[DnsProbeResult] = field(default_factory=list)


class ResponseInfo(NamedTuple):
    """What one DNS answer means for a check."""

    outcome: str
    rcode: str
    authoritative: bool
    truncated: bool
    serial: int | None
    answers: tuple[str, ...]
    detail: str


# -- pure parsing -----------------------------------------------------------------------------------


def parse_record(spec: str) -> tuple[str, str]:
    """``"www.kp. A"`` → (``"www.kp."``, ``"A"``); raises :class:`DnsProbeError`."""
    parts = spec.split()
    if len(parts) != 2:
        raise DnsProbeError(f"{spec!r} should be \"NAME TYPE\", e.g. \"www.kp. A\"")
    name, rdtype = parts
    try:
        qtype = dns.rdatatype.to_text(dns.rdatatype.from_text(rdtype.upper()))
        qname = dns.name.from_text(name).to_text()
    except (dns.exception.DNSException, ValueError) as exc:
        raise DnsProbeError(f"{spec!r}: {exc}") from None
    return qname.lower(), qtype


def _texts(rrsets: Iterable[Any]) -> tuple[str, ...]:
    out: list[str] = []
    for rrset in rrsets:
        for rdata in rrset:
            text = rdata.to_text()
            if rrset.rdtype in (dns.rdatatype.NS, dns.rdatatype.CNAME):
                text = text.lower()
            out.append(text[:MAX_ANSWER_CHARS])
    return tuple(sorted(out)[:MAX_ANSWERS])


def classify_response(message: dns.message.Message, role: str, zone: str, qname: str, qtype: str) -> ResponseInfo:
    """What an answer means for a check of ``role`` (see the module docstring)."""
    rcode = message.rcode()
    rcode_text = dns.rcode.to_text(rcode)
    aa = bool(message.flags & dns.flags.AA)
    tc = bool(message.flags & dns.flags.TC)
    name = dns.name.from_text(qname)
    rdtype = dns.rdatatype.from_text(qtype)

    def info(outcome: str, serial: int | None = None, answers: tuple[str, ...] = (), detail: str = "") -> ResponseInfo:
        return ResponseInfo(outcome, rcode_text, aa, tc, serial, answers, detail)

    if rcode == dns.rcode.REFUSED:
        return info("refused")
    if rcode == dns.rcode.SERVFAIL:
        return info("servfail")
    if rcode == dns.rcode.NXDOMAIN:
        return info("nxdomain", detail=f"{qname} does not exist")
    if rcode != dns.rcode.NOERROR:
        return info("error", detail=f"rcode {rcode_text}")
    if role == ROLE_PARENT:
        names, _ = delegation_from_response(message, zone)
        if not names:
            return info("error", detail=f"no NS delegation for {zone} in the answer")
        return info("ok", answers=tuple(sorted(names)))
    matching = [r for r in message.answer if r.name == name and r.rdtype == rdtype]
    if role in (ROLE_AUTHORITATIVE, ROLE_CHILD):
        if not aa:
            referral = any(r.rdtype == dns.rdatatype.NS for r in message.authority)
            return info("lame", detail="answer without authority" + (" (a referral)" if referral else ""))
        if not matching:
            return info("error", detail=f"no {qtype} for {qname} in an authoritative answer")
        serial = None
        if rdtype == dns.rdatatype.SOA:
            serial = int(next(iter(matching[0])).serial)
        return info("ok", serial=serial, answers=_texts(matching))
    # Resolver and DoH: follow a CNAME chain to the wanted type.
    wanted = [r for r in message.answer if r.rdtype == rdtype]
    if not wanted:
        return info("error", detail=f"NODATA: no {qtype} record for {qname}")
    serial = int(next(iter(wanted[0])).serial) if rdtype == dns.rdatatype.SOA else None
    return info("ok", serial=serial, answers=_texts(wanted))


def delegation_from_response(message: dns.message.Message, zone: str) -> tuple[set[str], dict[str, list[str]]]:
    """NS names for ``zone`` (from the answer, or the authority section of a referral) and glue."""
    zone_name = dns.name.from_text(zone)
    names: set[str] = set()
    for section in (message.answer, message.authority):
        for rrset in section:
            if rrset.rdtype == dns.rdatatype.NS and rrset.name == zone_name:
                names.update(rdata.target.to_text().lower() for rdata in rrset)
        if names:
            break
    glue: dict[str, list[str]] = {}
    for rrset in message.additional:
        owner = rrset.name.to_text().lower()
        if owner in names and rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            glue.setdefault(owner, []).extend(rdata.address for rdata in rrset)
    return names, glue


def doh_request(url: str) -> tuple[str, str]:
    """(URL to use, ``"GET"`` or ``"POST"``): an RFC 6570 ``{?dns}`` suffix asks for GET."""
    if url.endswith("{?dns}"):
        return url[: -len("{?dns}")], "GET"
    return url, "POST"


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def system_resolvers() -> list[tuple[str, int]]:
    """The resolvers of ``/etc/resolv.conf`` (used for discovery when a zone names none)."""
    try:
        resolver = dns.resolver.Resolver()
    except dns.exception.DNSException:
        return []
    return [(str(ns), resolver.port) for ns in resolver.nameservers if _is_ip(str(ns))]


# -- the I/O shell ------------------------------------------------------------------------------------


class DnsProber:
    """Discovers and probes the zones' servers, resolvers and DoH endpoints."""

    def __init__(
        self,
        zones: Sequence[ZoneConfig],
        settings: ProbeSettings | None = None,
        *,
        clock: Clock | None = None,
        udp: QueryFn | None = None,
        tcp: QueryFn | None = None,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        timer: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        resolvers_of_system: Callable[[], list[tuple[str, int]]] = system_resolvers,
    ) -> None:
        self.zones = list(zones)
        self.settings = settings or ProbeSettings()
        self.clock = clock or SystemClock()
        self._udp = udp or dns.asyncquery.udp
        self._tcp = tcp or dns.asyncquery.tcp
        self._http = http_client
        self._own_http = http_client is None
        self._sleep = sleep
        self._timer = timer
        self._rng = rng or random.Random()
        self._system_resolvers = resolvers_of_system
        self._semaphore: asyncio.Semaphore | None = None
        self._stop_requested = asyncio.Event()
        self.plans: dict[str, ZonePlan] = {}
        """The latest discovery result per zone."""
        for zone in self.zones:
            for record in zone.records:
                parse_record(record)  # refuse a bad record type before any I/O

    # -- lifecycle ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`run` to return after the current round, and at once if it is waiting for
        the next one (rounds are a minute apart: a console's ``q`` must not wait that out)."""
        self._stop_requested.set()

    async def aclose(self) -> None:
        """Close the HTTP client this prober created."""
        if self._http is not None and self._own_http:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> DnsProber:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def semaphore(self) -> asyncio.Semaphore:
        """The concurrency limit, made inside the running loop."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.settings.concurrency)
        return self._semaphore

    # -- one-shot and scheduled runs ------------------------------------------------------------

    async def run_once(self, push: Push | None = None, *, tcp: bool = True) -> list[DnsProbeResult]:
        """Discover, then run every check once (UDP, and TCP when ``tcp``); returns all results."""
        discovered, checks = await self.discover_all()
        if push is not None and discovered:
            await _call(push, discovered)
        wanted = [c for c in checks if tcp or c.transport != "tcp"]
        results = await self.probe_many(wanted)
        if push is not None and results:
            await _call(push, results)
        return discovered + results

    async def run(self, push: Push, *, rounds: int | None = None) -> None:
        """Probe forever (or for ``rounds`` batches), each check at its own jittered interval."""
        schedule: dict[Check, float] = {}
        next_discovery = -math.inf
        rediscover = self.settings.rediscover or self.settings.tcp_interval
        done = 0
        while not self._stop_requested.is_set() and (rounds is None or done < rounds):
            now = self.clock.now()
            if now >= next_discovery:
                discovered, checks = await self.discover_all()
                if discovered:
                    await _call(push, discovered)
                # Known checks keep their slot; new ones are due at once.
                schedule = {c: schedule.get(c, now) for c in checks}
                next_discovery = now + rediscover
            due = [c for c, at in schedule.items() if at <= now]
            if due:
                results = await self.probe_many(due)
                if results:
                    await _call(push, results)
                after = self.clock.now()
                for check in due:
                    schedule[check] = after + self._jittered(check)
                done += 1
            wake = min([*schedule.values(), next_discovery])
            await self._pause(max(0.0, wake - self.clock.now()))

    async def _pause(self, seconds: float) -> None:
        """The injected sleep, cut short by :meth:`stop`."""
        if self._stop_requested.is_set():
            return
        sleeping = asyncio.ensure_future(self._sleep(seconds))
        stopping = asyncio.ensure_future(self._stop_requested.wait())
        try:
            await asyncio.wait((sleeping, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeping, stopping):
                task.cancel()
            await asyncio.gather(sleeping, stopping, return_exceptions=True)

    def _jittered(self, check: Check) -> float:
        base = self.settings.tcp_interval if check.transport == "tcp" else self.settings.interval
        spread = self.settings.jitter
        return base * (1.0 + self._rng.uniform(-spread, spread))

    # -- discovery ------------------------------------------------------------------------------

    async def discover_all(self) -> tuple[list[DnsProbeResult], list[Check]]:
        """Discover every zone; returns the NS results and the checks to run."""
        plans = await asyncio.gather(*(self.discover(zone) for zone in self.zones))
        events: list[DnsProbeResult] = []
        checks: list[Check] = []
        for zone, plan in zip(self.zones, plans, strict=True):
            self.plans[zone.name] = plan
            events.extend(plan.events)
            checks.extend(self.checks_for(zone, plan))
        return events, checks

    def _resolvers(self, zone: ZoneConfig) -> list[tuple[str, int]]:
        configured = [hp for hp in (split_hostport(r) for r in zone.resolvers) if hp is not None]
        return configured or self._system_resolvers()

    async def discover(self, zone: ZoneConfig) -> ZonePlan:
        """Find the zone's nameserver addresses, and the NS sets at its parent and its servers."""
        plan = ZonePlan(zone.name)
        ts = self.clock.now()  # one stamp for the zone's whole discovery (see probe_many)
        resolvers = self._resolvers(zone)
        parents = await self._parent_servers(zone, resolvers, plan)
        ns_names: set[str] = set()
        glue: dict[str, list[str]] = {}
        for server in parents:
            result, names, found_glue = await self._ask_parent(zone, server, ts)
            plan.events.append(result)
            ns_names |= names
            for name, addresses in found_glue.items():
                glue.setdefault(name, []).extend(a for a in addresses if a not in glue.get(name, []))
        if zone.nameservers:
            for text in zone.nameservers:
                host, port = split_hostport(text) or (text, zone.port)
                if _is_ip(host):
                    plan.servers.append(Endpoint(host, host, port))
                else:
                    await self._add_named_server(zone, plan, host.lower().rstrip(".") + ".", port, [], resolvers, ts)
        else:
            if not ns_names:
                listed, error = await self._lookup(zone.name, "NS", resolvers)
                ns_names = set(listed)
                if not ns_names:
                    where = ", ".join(f"{h}:{p}" for h, p in resolvers) or "no resolver configured"
                    plan.events.append(self._result(
                        Check(zone.name, ROLE_PARENT, "discovery", "", 0, "udp", zone.name, "NS"),
                        "error", ts=ts, detail=f"no nameserver found for {zone.name} (parent and resolvers {where}: {error})",
                    ))
            for name in sorted(ns_names):
                await self._add_named_server(zone, plan, name, zone.port, glue.get(name, []), resolvers, ts)
        if parents or not zone.nameservers:
            # The child's own view of its NS set, from every address (compared with the parent's).
            plan.events.extend(await asyncio.gather(*(
                self.probe(Check(zone.name, ROLE_CHILD, s.name, s.address, s.port, "udp", zone.name, "NS"), ts)
                for s in plan.servers
            )))
        return plan

    async def _parent_servers(
        self, zone: ZoneConfig, resolvers: list[tuple[str, int]], plan: ZonePlan
    ) -> list[Endpoint]:
        if zone.parent:
            out = []
            for text in zone.parent:
                host, port = split_hostport(text) or (text, 53)
                if _is_ip(host):
                    out.append(Endpoint(host, host, port))
                else:
                    for address in await self._addresses(host, resolvers):
                        out.append(Endpoint(host, address, port))
            return out
        if zone.nameservers:
            return []  # configured servers and no parent given: no delegation check
        name = dns.name.from_text(zone.name)
        if name == dns.name.root:
            return []
        parent = name.parent().to_text()
        names, _ = await self._lookup(parent, "NS", resolvers)
        out = []
        for ns in sorted(names):
            for address in await self._addresses(ns, resolvers):
                out.append(Endpoint(ns, address, 53))
        return out

    async def _ask_parent(
        self, zone: ZoneConfig, server: Endpoint, ts: float
    ) -> tuple[DnsProbeResult, set[str], dict[str, list[str]]]:
        check = Check(zone.name, ROLE_PARENT, server.name, server.address, server.port, "udp", zone.name, "NS")
        result, message = await self._probe_dns(check, ts)
        if message is None or result.outcome != "ok":
            return result, set(), {}
        names, glue = delegation_from_response(message, zone.name)
        return result, names, glue

    async def _add_named_server(
        self, zone: ZoneConfig, plan: ZonePlan, name: str, port: int, glue: list[str],
        resolvers: list[tuple[str, int]], ts: float,
    ) -> None:
        addresses = list(glue) or await self._addresses(name, resolvers)
        if not addresses:
            # Shown as a failing server whose "address" is its name: it cannot be asked at all.
            plan.events.append(self._result(
                Check(zone.name, ROLE_AUTHORITATIVE, name, name, port, "udp", zone.name, "SOA"),
                "error", ts=ts, detail=f"no A or AAAA address found for {name}",
            ))
            return
        for address in addresses:
            plan.servers.append(Endpoint(name, address, port))

    async def _addresses(self, name: str, resolvers: list[tuple[str, int]]) -> list[str]:
        v4, _ = await self._lookup(name, "A", resolvers)
        v6, _ = await self._lookup(name, "AAAA", resolvers)
        return [*v4, *v6]

    async def _lookup(self, name: str, qtype: str, resolvers: list[tuple[str, int]]) -> tuple[list[str], str]:
        """Values of ``name``/``qtype`` from the first resolver that answers; else ([], why)."""
        error = "no resolver to ask"
        for host, port in resolvers:
            if not _is_ip(host):
                error = f"resolver {host!r} is not an IP address"
                continue
            check = Check("", ROLE_RESOLVER, host, host, port, "udp", name, qtype)
            result, _ = await self._probe_dns(check)
            if result.outcome == "ok":
                return list(result.answers), ""
            if result.outcome == "nxdomain" or result.detail.startswith("NODATA"):
                return [], f"{name} {qtype}: {result.detail}"  # a definite answer: no use asking others
            error = f"{host}:{port} {result.outcome}"
        return [], error

    def checks_for(self, zone: ZoneConfig, plan: ZonePlan) -> list[Check]:
        """Every check of ``zone`` given what discovery found."""
        checks: list[Check] = []
        for server in plan.servers:
            for transport in ("udp", "tcp"):
                checks.append(Check(zone.name, ROLE_AUTHORITATIVE, server.name, server.address, server.port,
                                    transport, zone.name, "SOA"))
        records = [parse_record(r) for r in zone.records] or [(zone.name, "SOA")]
        for text in zone.resolvers:
            host, port = split_hostport(text) or (text, 53)
            for qname, qtype in records:
                checks.append(Check(zone.name, ROLE_RESOLVER, host, host, port, "udp", qname, qtype))
        for url in zone.doh:
            target, _ = doh_request(url)
            parsed = httpx.URL(target)
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            for qname, qtype in records:
                checks.append(Check(zone.name, ROLE_DOH, parsed.host, url, port, "https", qname, qtype))
        return checks

    # -- probing --------------------------------------------------------------------------------

    async def probe_many(self, checks: Sequence[Check]) -> list[DnsProbeResult]:
        """Run ``checks`` concurrently (within the concurrency limit); results in check order.

        All results carry the round's start time as ``ts``: the core judges a zone once per
        round, whatever batches a replay later cuts the journal into.
        """
        ts = self.clock.now()
        if self._http is None and any(c.role == ROLE_DOH for c in checks):
            # Made before the probes start: building its TLS context blocks the loop for a while,
            # which would otherwise be counted in the latency of every query in flight.
            self._http = httpx.AsyncClient(headers={"user-agent": USER_AGENT})
        return list(await asyncio.gather(*(self.probe(c, ts) for c in checks)))

    async def probe(self, check: Check, ts: float | None = None) -> DnsProbeResult:
        """Run one check (stamped ``ts``, default now); every failure is an outcome, never an exception."""
        ts = self.clock.now() if ts is None else ts
        if check.role == ROLE_DOH:
            return await self._probe_doh(check, ts)
        result, _ = await self._probe_dns(check, ts)
        return result

    def _result(self, check: Check, outcome: str, *, ts: float | None = None, latency: float | None = None,
                info: ResponseInfo | None = None, detail: str = "", truncated: bool = False) -> DnsProbeResult:
        return DnsProbeResult(
            ts=self.clock.now() if ts is None else ts,
            zone=check.zone,
            server=check.server,
            address=check.address,
            port=check.port,
            transport=check.transport,
            qname=check.qname,
            qtype=check.qtype,
            outcome=outcome,
            rcode=info.rcode if info else None,
            latency=latency,
            serial=info.serial if info else None,
            authoritative=info.authoritative if info else False,
            truncated=truncated or (info.truncated if info else False),
            answers=info.answers if info else (),
            detail=detail or (info.detail if info else ""),
            role=check.role,
        )

    async def _probe_dns(self, check: Check, ts: float | None = None) -> tuple[DnsProbeResult, dns.message.Message | None]:
        ts = self.clock.now() if ts is None else ts
        if not _is_ip(check.address):
            return self._result(check, "error", ts=ts, detail=f"{check.address!r} is not an IP address"), None
        query = dns.message.make_query(check.qname, check.qtype)
        if check.role in (ROLE_AUTHORITATIVE, ROLE_CHILD, ROLE_PARENT):
            query.flags &= ~dns.flags.RD  # ask the server what it knows itself
        timeout = self.settings.timeout
        async with self.semaphore:
            if check.transport == "tcp":
                started = self._timer()
                outcome, message, detail = await self._ask(self._tcp, query, check, timeout)
                latency = self._timer() - started
                truncated = False
            else:
                outcome, message, detail, latency = "timeout", None, f"no answer in {timeout:g} s", None
                for _attempt in range(self.settings.retries + 1):
                    started = self._timer()
                    outcome, message, detail = await self._ask(self._udp, query, check, timeout)
                    latency = self._timer() - started
                    if outcome != "timeout":
                        break
                if outcome == "timeout" and self.settings.retries:
                    detail = f"no answer in {self.settings.retries + 1} tries of {timeout:g} s"
                truncated = message is not None and bool(message.flags & dns.flags.TC)
                if truncated:
                    # Too big for UDP: the answer only exists over TCP.
                    started = self._timer()
                    outcome, message, tcp_detail = await self._ask(self._tcp, query, check, timeout)
                    latency = (latency or 0.0) + self._timer() - started
                    detail = "truncated over UDP, asked again over TCP" + (f": {tcp_detail}" if tcp_detail else "")
        if message is None:
            return self._result(check, outcome, ts=ts, detail=detail, truncated=truncated), None
        info = classify_response(message, check.role, check.zone, check.qname, check.qtype)
        if truncated:
            detail = "truncated over UDP, answered over TCP" + (f"; {info.detail}" if info.detail else "")
        return self._result(check, info.outcome, ts=ts, latency=latency, info=info, detail=detail, truncated=truncated), message

    async def _ask(
        self, fn: QueryFn, query: dns.message.Message, check: Check, timeout: float
    ) -> tuple[str, dns.message.Message | None, str]:
        """(outcome, message, detail) of one query; outcome is "" when a message came back."""
        try:
            # dnspython's own timeout covers the exchange; wait_for is a backstop for injected fns.
            message = await asyncio.wait_for(
                fn(query, check.address, timeout=timeout, port=check.port), timeout + 1.0
            )
        except (TimeoutError, dns.exception.Timeout):
            return "timeout", None, f"no answer in {timeout:g} s"
        except ConnectionRefusedError:
            return "unreachable", None, f"connection refused by {check.address} port {check.port}"
        except (dns.exception.FormError, dns.exception.SyntaxError, dns.query.BadResponse) as exc:
            return "error", None, f"malformed answer: {exc}"
        except EOFError:
            return "error", None, "connection closed before an answer"
        except OSError as exc:
            return "unreachable", None, f"{type(exc).__name__}: {exc.strerror or exc}"
        except dns.exception.DNSException as exc:
            return "error", None, f"{type(exc).__name__}: {exc}"
        return "", message, ""

    async def _probe_doh(self, check: Check, ts: float) -> DnsProbeResult:
        url, method = doh_request(check.address)
        query = dns.message.make_query(check.qname, check.qtype)
        query.id = 0  # RFC 8484 4.1: ID 0 keeps GET answers cacheable
        wire = query.to_wire()
        headers = {"accept": DOH_CONTENT_TYPE}
        if self._http is None:
            self._http = httpx.AsyncClient(headers={"user-agent": USER_AGENT})
        async with self.semaphore:
            started = self._timer()
            try:
                if method == "GET":
                    encoded = base64.urlsafe_b64encode(wire).rstrip(b"=").decode()
                    response = await self._http.get(url, params={"dns": encoded}, headers=headers,
                                                    timeout=self.settings.timeout)
                else:
                    response = await self._http.post(url, content=wire, timeout=self.settings.timeout,
                                                     headers={**headers, "content-type": DOH_CONTENT_TYPE})
            except httpx.TimeoutException:
                return self._result(check, ts=ts, outcome="timeout", detail=f"no HTTP answer in {self.settings.timeout:g} s")
            except httpx.ConnectError as exc:
                return self._result(check, ts=ts, outcome="unreachable", detail=f"cannot connect: {exc}")
            except httpx.HTTPError as exc:
                return self._result(check, ts=ts, outcome="error", detail=f"{type(exc).__name__}: {exc}")
            latency = self._timer() - started
        if response.status_code != 200:
            return self._result(check, ts=ts, outcome="error", latency=latency, detail=f"HTTP {response.status_code} from {url}")
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != DOH_CONTENT_TYPE:
            return self._result(
                check, ts=ts, outcome="error", latency=latency, detail=f"content-type {kind[:60]!r}, not {DOH_CONTENT_TYPE}"
            )
        try:
            message = dns.message.from_wire(response.content)
        except dns.exception.DNSException as exc:
            return self._result(check, ts=ts, outcome="error", latency=latency, detail=f"malformed DNS message: {exc}")
        if not query.is_response(message):
            return self._result(check, ts=ts, outcome="error", latency=latency, detail="answer does not match the question")
        info = classify_response(message, check.role, check.zone, check.qname, check.qtype)
        if info.truncated and info.outcome != "ok":
            # DoH has no size limit: a truncated answer means the endpoint's upstream cut it.
            return self._result(check, ts=ts, outcome="error", latency=latency, info=info, detail="truncated answer over DoH")
        return self._result(check, ts=ts, outcome=info.outcome, latency=latency, info=info)


async def _call(push: Push, batch: list[DnsProbeResult]) -> None:
    outcome = push(batch)
    if inspect.isawaitable(outcome):
        await outcome
