from __future__ import annotations

import pytest

from tui.core.aspath import format_path, origin_of, parse_path, path_from_json, upstream_of
from tui.core.prefixes import Prefix, PrefixError, PrefixTrie, wire_key_to_prefix


def test_parse_and_format_round_trip():
    for text in ("175.45.176.0/22", "0.0.0.0/0", "2001:db8::/32", "::/0", "10.0.0.1/32"):
        assert str(Prefix.parse(text)) == text


def test_host_bits_cleared_unless_strict():
    assert str(Prefix.parse("175.45.177.9/22")) == "175.45.176.0/22"
    with pytest.raises(PrefixError):
        Prefix.parse("175.45.177.9/22", strict=True)


def test_wire_key_round_trip_and_bad_encodings():
    for text in ("175.45.176.0/22", "0.0.0.0/0", "2001:db8:4::/48", "77.94.35.0/24", "1.2.3.4/32"):
        p = Prefix.parse(text)
        assert wire_key_to_prefix(p.version, p.wire_key) == p
    with pytest.raises(PrefixError):
        wire_key_to_prefix(4, bytes([33, 1, 2, 3, 4, 5]))
    with pytest.raises(PrefixError):
        wire_key_to_prefix(4, bytes([24, 1, 2]))  # one octet short


def test_trie_relations():
    trie = PrefixTrie([(Prefix.parse("175.45.176.0/22"), "nk"), (Prefix.parse("210.52.109.0/24"), "nk2")])
    inside = trie.relations(Prefix.parse("175.45.177.0/24"))
    assert [(str(r.watched), r.kind) for r in inside] == [("175.45.176.0/22", "more_specific")]
    covering = trie.relations(Prefix.parse("175.32.0.0/11"))
    assert [(str(r.watched), r.kind) for r in covering] == [("175.45.176.0/22", "less_specific")]
    assert [r.kind for r in trie.relations(Prefix.parse("175.45.176.0/22"))] == ["exact"]
    assert trie.relations(Prefix.parse("8.8.8.0/24")) == []
    assert not trie.is_relevant(Prefix.parse("2001:db8::/32"))
    assert trie.is_relevant(Prefix.parse("0.0.0.0/0"))


def test_as_path_with_set():
    path = path_from_json([2497, 6453, 18705, 26281, [13340]])
    assert origin_of(path) == 13340
    multi = parse_path("1 2 {4,3}")
    assert format_path(multi) == "1 2 {3,4}"
    assert origin_of(multi) == (3, 4)
    assert upstream_of(parse_path("3356 4837 131279 131279")) == 4837
    assert upstream_of(parse_path("131279")) is None
