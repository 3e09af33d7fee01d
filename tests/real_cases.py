"""Watches around real events in ../shared/data, shared by the collector and bus tests.

In ``updates.20070211.0141.gz`` (RIS, LINX peers, 2007-02-11 01:41-01:56 UTC) bgpdump's own
output shows: 91.142.144.0/22 withdrawn by its last sessions and never back (a covering /21
appears), 2001:700::/32 gone from 01:45:05 to 01:55:15, 213.83.17.0/24 with two origins at
once, 208.96.128.0/20 with an AS_SET origin beside a plain one, and 192.96.13.0/24 withdrawn
and re-announced dozens of times. tests/test_detect_real.py derives these from bgpdump itself.
"""
MRT_2007 = "mrt/bgpdump/updates.20070211.0141.gz"

CONFIG_2007 = """
[[watch]]
name = "A"
prefixes = ["91.142.144.0/22"]
[[watch]]
name = "B"
prefixes = ["2001:700::/32"]
[[watch]]
name = "C"
prefixes = ["213.83.17.0/24", "208.96.128.0/20"]
[[watch]]
name = "D"
prefixes = ["192.96.13.0/24"]
"""
