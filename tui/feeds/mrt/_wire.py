"""MRT record framing constants and the small wire helpers every part of the reader shares."""

from __future__ import annotations

import re
import struct

__all__ = [
    "BGP4MP",
    "BGP4MP_ADDPATH",
    "BGP4MP_ET",
    "BGP4MP_LOCAL",
    "BGP4MP_MESSAGE",
    "BGP4MP_STATE",
    "BGP_STATE_NAMES",
    "ET_TYPES",
    "HEADER",
    "KNOWN_TYPES",
    "MARKER",
    "MAX_RECORD",
    "MP_HINT",
    "MrtError",
    "PREFIX_BITS",
    "TABLE_DUMP",
    "TABLE_DUMP_V2",
    "TD2_PEER_INDEX",
    "TD2_RIB",
    "U16",
    "U32",
    "ip_text",
    "state_name",
]


class MrtError(ValueError):
    """One MRT record (or one of its parts) could not be decoded; the reader reports and skips it."""


TABLE_DUMP, TABLE_DUMP_V2, BGP4MP, BGP4MP_ET = 12, 13, 16, 17
KNOWN_TYPES = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 32, 33, 48, 49})
"""Every MRT type IANA ever registered: anything else in a header means we lost the framing."""
ET_TYPES = frozenset({17, 33, 49})
MAX_RECORD = 64 * 1024 * 1024
"""A record longer than this is taken as a corrupt header (a full RIB record with thousands of
peers is well under a megabyte)."""

BGP4MP_STATE = {0: 2, 5: 4}  # subtype -> ASN width
BGP4MP_MESSAGE = {1: 2, 4: 4, 6: 2, 7: 4, 8: 2, 9: 4, 10: 2, 11: 4}
BGP4MP_LOCAL = frozenset({6, 7, 10, 11})
BGP4MP_ADDPATH = frozenset({8, 9, 10, 11})
TD2_PEER_INDEX = 1
TD2_RIB = {2: (4, False), 4: (6, False), 8: (4, True), 10: (6, True)}  # subtype -> (version, addpath)

MARKER = b"\xff" * 16
MP_HINT = re.compile(rb"[\x80-\xff][\x0e\x0f](?:.|..)\x00[\x01\x02]", re.DOTALL).search
"""Finds what could be an MP_REACH/MP_UNREACH for IPv4 or IPv6 (optional flag, type 14/15, a
1- or 2-octet length, AFI 1 or 2): an attribute block without one need not be walked."""

BGP_STATE_NAMES = {
    1: "IDLE",
    2: "CONNECT",
    3: "ACTIVE",
    4: "OPENSENT",
    5: "OPENCONFIRM",
    6: "ESTABLISHED",
    # Not in RFC 6396, but Quagga writes them into update files.
    7: "CLEARING",
    8: "DELETED",
}
PREFIX_BITS = {4: 32, 6: 128}

U16 = struct.Struct(">H").unpack_from
U32 = struct.Struct(">I").unpack_from
HEADER = struct.Struct(">IHHI").unpack_from

def ip_text(raw: bytes) -> str:
    """An IPv4 or IPv6 address in its usual text form; other lengths as hex (never fails)."""
    if len(raw) == 4:
        return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"
    if len(raw) == 16:
        # The C library's form, as bgpdump writes it (socket is imported only when needed:
        # most files name IPv4 peers only, and every start would pay for it).
        import socket

        return socket.inet_ntop(socket.AF_INET6, raw)
    return raw.hex()


def state_name(code: int) -> str:
    """A BGP FSM state's name (``ESTABLISHED``), ``UNKNOWN_<n>`` for codes outside RFC 4271."""
    return BGP_STATE_NAMES.get(code, f"UNKNOWN_{code}")
