"""The prober's pure parsing, and its scheduling, retries and concurrency limit.

Answers here are real dnspython messages built in memory; the query functions are stand-ins
only where the property under test is about time or load (when each check runs, how many run
at once), which a real server cannot be made to show deterministically. Real servers are in
test_dns_lab.py.
"""

from __future__ import annotations

import asyncio
import random

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from tui.config import ZoneConfig
from tui.core.clock import FixedClock
from tui.feeds.dns_probe import (
    Check,
    DnsProbeError,
    DnsProber,
    ProbeSettings,
    classify_response,
    delegation_from_response,
    doh_request,
    parse_record,
)

ZONE = "kp."


def answer(query, *, aa=True, rcode=dns.rcode.NOERROR, serial=7, tc=False):
    """A real response message to ``query`` with the SOA (when NOERROR and AA)."""
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    if aa:
        response.flags |= dns.flags.AA
    if tc:
        response.flags |= dns.flags.TC
    if rcode == dns.rcode.NOERROR and aa and not tc:
        qname = query.question[0].name
        response.answer.append(dns.rrset.from_text(qname, 300, "IN", "SOA", f"ns1.kp. root.kp. {serial} 1 1 1 1"))
    return response


def test_parse_record_and_doh_method():
    assert parse_record("WWW.kp. a") == ("www.kp.", "A")
    assert parse_record("kp SOA") == ("kp.", "SOA")
    with pytest.raises(DnsProbeError):
        parse_record("www.kp. NOPE")
    with pytest.raises(DnsProbeError):
        parse_record("www.kp.")
    assert doh_request("https://dns.example/dns-query{?dns}") == ("https://dns.example/dns-query", "GET")
    assert doh_request("https://dns.example/dns-query") == ("https://dns.example/dns-query", "POST")


def test_classify_authoritative_answers():
    query = dns.message.make_query(ZONE, "SOA")
    ok = classify_response(answer(query, serial=2014122201), "authoritative", ZONE, ZONE, "SOA")
    assert (ok.outcome, ok.serial, ok.authoritative) == ("ok", 2014122201, True)
    lame = classify_response(answer(query, aa=False), "authoritative", ZONE, ZONE, "SOA")
    assert lame.outcome == "lame" and not lame.authoritative
    for rcode, outcome in ((dns.rcode.REFUSED, "refused"), (dns.rcode.SERVFAIL, "servfail"),
                           (dns.rcode.NXDOMAIN, "nxdomain"), (dns.rcode.NOTIMP, "error")):
        assert classify_response(answer(query, rcode=rcode), "authoritative", ZONE, ZONE, "SOA").outcome == outcome
    nodata = dns.message.make_response(dns.message.make_query("www.kp.", "AAAA"))
    assert classify_response(nodata, "resolver", ZONE, "www.kp.", "AAAA").detail.startswith("NODATA")


def test_delegation_is_read_from_a_referral_with_glue():
    query = dns.message.make_query(ZONE, "NS")
    referral = dns.message.make_response(query)
    referral.authority.append(dns.rrset.from_text(ZONE, 300, "IN", "NS", "ns1.kp.", "ns2.kp."))
    referral.additional.append(dns.rrset.from_text("ns1.kp.", 300, "IN", "A", "175.45.176.15"))
    referral.additional.append(dns.rrset.from_text("elsewhere.", 300, "IN", "A", "192.0.2.1"))
    names, glue = delegation_from_response(referral, ZONE)
    assert names == {"ns1.kp.", "ns2.kp."} and glue == {"ns1.kp.": ["175.45.176.15"]}
    info = classify_response(referral, "parent", ZONE, ZONE, "NS")
    assert info.outcome == "ok" and info.answers == ("ns1.kp.", "ns2.kp.")


class Stepper:
    """A clock plus a sleep that advances it: scheduling runs in no real time."""

    def __init__(self) -> None:
        self.clock = FixedClock(1000.0)
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.value += seconds
        await asyncio.sleep(0)


async def test_schedule_udp_at_interval_tcp_less_often_with_jitter():
    stepper = Stepper()
    asked: list[tuple[float, str]] = []

    def fn(transport):
        async def ask(q, where, timeout=None, port=53):
            asked.append((stepper.clock.now(), transport))
            return answer(q)
        return ask

    zone = ZoneConfig(ZONE, nameservers=("127.0.0.1:5353",))
    settings = ProbeSettings(interval=60, tcp_interval=300, jitter=0.1, timeout=1, rediscover=10_000)
    prober = DnsProber([zone], settings, clock=stepper.clock, udp=fn("udp"), tcp=fn("tcp"),
                       sleep=stepper.sleep, rng=random.Random(5))
    batches = []
    await prober.run(batches.append, rounds=12)
    udp = [t for t, kind in asked if kind == "udp"]
    tcp = [t for t, kind in asked if kind == "tcp"]
    gaps = [b - a for a, b in zip(udp, udp[1:], strict=False)]
    assert len(batches) == 12 and len(udp) >= 9  # a round is whatever was due together
    assert all(54 <= g <= 66 for g in gaps) and len(set(gaps)) > 1  # 60 s +- 10 % jitter
    assert 2 <= len(tcp) <= 3 and all(270 <= b - a <= 330 for a, b in zip(tcp, tcp[1:], strict=False))
    assert all(len({r.ts for r in batch}) == 1 for batch in batches)  # one stamp per round


async def test_stop_ends_a_prober_waiting_for_its_next_round():
    """Rounds are a minute apart; stop() (a console's q) must not wait that out."""
    never = asyncio.Event()

    async def sleep_forever(seconds: float) -> None:
        await never.wait()

    async def ask(q, where, timeout=None, port=53):
        return answer(q)

    zone = ZoneConfig(ZONE, nameservers=("127.0.0.1:5353",))
    prober = DnsProber([zone], ProbeSettings(interval=60, tcp_interval=300), udp=ask, tcp=ask, sleep=sleep_forever)
    first_round = asyncio.Event()
    running = asyncio.create_task(prober.run(lambda batch: first_round.set()))
    await asyncio.wait_for(first_round.wait(), timeout=30)  # a bound for a stuck test, not a timing
    await asyncio.sleep(0)  # into the wait for the next round
    assert not running.done()
    prober.stop()
    await asyncio.wait_for(running, timeout=30)


async def test_udp_retries_before_a_timeout_counts_and_truncation_goes_to_tcp():
    calls = {"udp": 0, "tcp": 0}

    async def flaky_udp(q, where, timeout=None, port=53):
        calls["udp"] += 1
        if calls["udp"] < 3:
            raise dns.exception.Timeout()
        return answer(q, tc=True)

    async def tcp(q, where, timeout=None, port=53):
        calls["tcp"] += 1
        return answer(q, serial=9)

    prober = DnsProber([], ProbeSettings(timeout=0.1, retries=2), udp=flaky_udp, tcp=tcp)
    result = await prober.probe(Check(ZONE, "authoritative", "ns1.kp.", "127.0.0.1", 53, "udp", ZONE, "SOA"))
    assert calls == {"udp": 3, "tcp": 1}
    assert result.outcome == "ok" and result.serial == 9 and result.truncated and result.transport == "udp"
    prober = DnsProber([], ProbeSettings(timeout=0.1, retries=1), udp=flaky_udp, tcp=tcp)
    calls.update(udp=-10)
    result = await prober.probe(Check(ZONE, "authoritative", "ns1.kp.", "127.0.0.1", 53, "udp", ZONE, "SOA"))
    assert result.outcome == "timeout" and "2 tries" in result.detail and result.latency is None


async def test_concurrency_limit_holds_queries_back():
    in_flight = 0
    peak = 0
    release = asyncio.Event()

    async def slow(q, where, timeout=None, port=53):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await release.wait()
        in_flight -= 1
        return answer(q)

    prober = DnsProber([], ProbeSettings(concurrency=3, timeout=5), udp=slow, tcp=slow)
    checks = [Check(ZONE, "authoritative", "ns", f"127.0.0.{i}", 53, "udp", ZONE, "SOA") for i in range(1, 11)]
    task = asyncio.create_task(prober.probe_many(checks))
    for _ in range(50):
        await asyncio.sleep(0)
    assert in_flight == 3
    release.set()
    results = await task
    assert peak == 3 and [r.outcome for r in results] == ["ok"] * 10


async def test_nothing_is_sent_to_a_name_or_an_unresolvable_nameserver():
    async def refuse(q, where, timeout=None, port=53):
        raise AssertionError(f"query sent to {where}")

    zone = ZoneConfig(ZONE, nameservers=("ns1.kp.:53",), resolvers=())
    prober = DnsProber([zone], ProbeSettings(timeout=0.1), udp=refuse, tcp=refuse, resolvers_of_system=lambda: [])
    results = await prober.run_once()
    assert [(r.role, r.address, r.outcome) for r in results] == [("authoritative", "ns1.kp.", "error")]
    assert "no A or AAAA address" in results[0].detail
