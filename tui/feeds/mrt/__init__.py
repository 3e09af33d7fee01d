"""MRT files (RFC 6396) as a replay source: RIBs and update streams turned into core events.

The public face is :func:`read_mrt` / :func:`read_mrt_files` (an :class:`MrtReader` of event
batches, with :class:`MrtStats`), :func:`compression_of` / :func:`open_decompressed` (the
containers, for whoever sniffs a file) and :func:`collector_from_path`. The modules behind it
are private: ``_container`` (decompression), ``_decoder`` (records → events), ``_filter``
(the watch filter), ``_nlri``, ``_naming``, ``_stats``, ``_wire`` (framing constants) and
``_reader``.

What is read
============

- Containers: plain, gzip (also multi-member), bzip2 (also multi-stream) or xz, told apart by
  their magic bytes, never by the name; a path or a binary file object.
- TABLE_DUMP (v1, IPv4 and IPv6, and bgpdump's 32-bit-AS subtypes 3/4), TABLE_DUMP_V2
  (PEER_INDEX_TABLE, RIB_IPV4_UNICAST, RIB_IPV6_UNICAST and their ADD-PATH variants),
  BGP4MP and BGP4MP_ET (MESSAGE, MESSAGE_AS4, STATE_CHANGE, STATE_CHANGE_AS4, the ADD-PATH
  variants; the LOCAL variants are read but hold what the collector *sent*, so they add no
  route to the peer's table).
- 2- and 4-byte ASNs; for 2-byte sessions AS4_PATH is merged into AS_PATH the way bgpdump does
  (RFC 6793: the leading ASNs of AS_PATH, then AS4_PATH; ignored when AS4_PATH is the longer, or
  when a non-AS_TRANS AGGREGATOR comes with an AS4_AGGREGATOR). AS_SETs are kept as sets.
- IPv4 and IPv6 unicast NLRI, in the UPDATE body and in MP_REACH/MP_UNREACH (SAFI 1; multicast
  and other SAFIs are not routes anyone reaches a prefix by, so they are skipped).
- Standard communities, as ``"asn:value"`` strings (the form RIS Live uses too).
- OPEN, KEEPALIVE, NOTIFICATION and ROUTE-REFRESH messages, multicast RIBs, RIB_GENERIC and
  the protocols MRT also carries (OSPF, IS-IS) are skipped and counted in ``MrtStats.skipped``.

How bad input is reported
=========================

Every record that cannot be read becomes a :class:`~tui.core.events.RecordRejected` (location
``FILE@OFFSET``, the byte offset of the record in the decompressed stream) and is counted;
reading resumes at the next record, found from the MRT header's length. A header that cannot be
trusted (an unknown record type, an absurd length) ends the file: from there on, nothing can be
framed. A file that ends in the middle of a record or of its compressed stream ends with
``FeedStatus(state="ended", detail="... truncated at byte offset N ...")``; every complete record
before that point has been read.

Speed
=====

Reading is a walk over one ``bytes`` buffer with struct offsets. A route becomes a Python
object of its own only when a specific watch concerns it:

- with a ``watchlist``, each NLRI block is scanned by a compiled regular expression that steps
  over non-matching prefixes in C and stops only at a prefix whose first octet could relate to
  a watched prefix; only those are decoded and checked exactly. The AS path is looked at only
  when the watchlist has ASNs, and only when the ASN's bytes occur in the attributes at all.
- a RIB record (TABLE_DUMP, TABLE_DUMP_V2) that no watch concerns is told so from its raw
  octets: its prefix's first octet against a table of the watched ones, then one search of the
  whole record for the watched ASNs' octets. Then only its sessions are counted (for the
  full-feed declaration), by PEER_INDEX_TABLE position, with no object made per entry.
- bzip2 (the slow container: as slow as everything else together) is decompressed block by
  block in threads, one per CPU, while the records of the blocks before are read.
- for a whole table (a watch of ``0.0.0.0/0`` / ``::/0``, or ``table=True``), the other routes
  go out as :class:`~tui.core.events.BulkRoutes`: one event per UPDATE (per group of RIB
  entries with the same session and attributes), the prefixes as wire keys split in C, the
  attributes as one interned :class:`~tui.core.attributes.PathAttributes` per distinct blob,
  decoded only when somebody looks at a route that has it.
"""

from __future__ import annotations

from tui.core.attributes import DecodedAttributes, decode_attributes
from tui.feeds.mrt._container import compression_of, open_decompressed
from tui.feeds.mrt._naming import collector_from_path
from tui.feeds.mrt._nlri import split_nlri
from tui.feeds.mrt._reader import DEFAULT_BATCH_RECORDS, MrtReader, read_mrt, read_mrt_files
from tui.feeds.mrt._stats import MrtStats
from tui.feeds.mrt._wire import BGP_STATE_NAMES, MrtError

__all__ = [
    "BGP_STATE_NAMES",
    "DEFAULT_BATCH_RECORDS",
    "DecodedAttributes",
    "MrtError",
    "MrtReader",
    "MrtStats",
    "collector_from_path",
    "compression_of",
    "decode_attributes",
    "open_decompressed",
    "read_mrt",
    "read_mrt_files",
    "split_nlri",
]
