"""RPKI route origin validation (RFC 6811) against a set of VRPs, pure.

VRP files come from a relying-party validator; two JSON exports are read:

- rpki-client: ``{"roas": [{"asn": 64500, "prefix": "192.0.2.0/24", "maxLength": 24, "ta": "ripe"}]}``
- Routinator (``--format json``): ``{"roas": [{"asn": "AS64500", "prefix": "192.0.2.0/24",
  "maxLength": 24, "ta": "ripe"}]}``

Validation of (route prefix, origin): the *covering* VRPs are those whose prefix contains the
route's. None → ``not_found``. A covering VRP with the same ASN and ``maxLength`` at least the
route's length → ``valid``. Otherwise ``invalid``: ``invalid_length`` when a VRP of the same
ASN covers it but allows only shorter prefixes, else ``invalid_asn``. A route whose origin is
an AS_SET has no single origin and can match no VRP (RFC 6811 §2); AS0 VRPs never match.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tui.core.prefixes import Prefix, PrefixError, PrefixTrie

__all__ = ["Vrp", "VrpSet", "VrpError", "Validation", "parse_vrps", "VALID", "INVALID_ASN", "INVALID_LENGTH", "NOT_FOUND"]

VALID = "valid"
INVALID_ASN = "invalid_asn"
INVALID_LENGTH = "invalid_length"
NOT_FOUND = "not_found"


class VrpError(ValueError):
    """A VRP export could not be read; the message says which entry and why."""


@dataclass(frozen=True, slots=True)
class Vrp:
    """One validated ROA payload."""

    asn: int
    prefix: Prefix
    max_length: int
    ta: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-compatible form (for finding evidence)."""
        return {"asn": self.asn, "prefix": str(self.prefix), "max_length": self.max_length, "ta": self.ta}


@dataclass(frozen=True, slots=True)
class Validation:
    """The outcome of validating one route."""

    state: str
    covering: tuple[Vrp, ...] = ()

    @property
    def invalid(self) -> bool:
        """True for either kind of invalid."""
        return self.state in (INVALID_ASN, INVALID_LENGTH)


class VrpSet:
    """VRPs indexed by prefix for covering lookups."""

    def __init__(self, vrps: Iterable[Vrp] = ()) -> None:
        self._trie: PrefixTrie[list[Vrp]] = PrefixTrie()
        self._count = 0
        for vrp in vrps:
            self.add(vrp)

    def add(self, vrp: Vrp) -> None:
        """Add one VRP."""
        entries = self._trie.get(vrp.prefix)
        if entries is None:
            entries = []
            self._trie.insert(vrp.prefix, entries)
        if vrp not in entries:
            entries.append(vrp)
            self._count += 1

    def __len__(self) -> int:
        return self._count

    def covering(self, prefix: Prefix) -> list[Vrp]:
        """VRPs whose prefix contains (or equals) ``prefix``."""
        return [v for _, entries in self._trie.covering(prefix) for v in entries]

    def validate(self, prefix: Prefix, origin: int | tuple[int, ...] | None) -> Validation:
        """RFC 6811 origin validation of ``prefix`` announced by ``origin``."""
        covering = tuple(self.covering(prefix))
        if not covering:
            return Validation(NOT_FOUND)
        if isinstance(origin, tuple) or origin is None:
            return Validation(INVALID_ASN, covering)
        same_asn = [v for v in covering if v.asn == origin and v.asn != 0]
        if any(prefix.length <= v.max_length for v in same_asn):
            return Validation(VALID, covering)
        return Validation(INVALID_LENGTH if same_asn else INVALID_ASN, covering)


def _asn(value: Any, where: str) -> int:
    text = str(value).strip()
    if text.upper().startswith("AS"):
        text = text[2:]
    try:
        asn = int(text)
    except ValueError:
        raise VrpError(f"{where}: asn {value!r} is not an AS number") from None
    if not 0 <= asn <= 0xFFFFFFFF:
        raise VrpError(f"{where}: asn {asn} out of range")
    return asn


def parse_vrps(data: str | bytes | dict[str, Any], *, name: str = "VRP file") -> VrpSet:
    """Read an rpki-client or Routinator JSON export; raises :class:`VrpError`."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise VrpError(f"{name}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("roas"), list):
        raise VrpError(f"{name}: expected a JSON object with a \"roas\" list (rpki-client or Routinator JSON)")
    vrps = VrpSet()
    for index, item in enumerate(data["roas"]):
        where = f"{name}: roas[{index}]"
        if not isinstance(item, dict):
            raise VrpError(f"{where}: expected an object, got {type(item).__name__}")
        try:
            prefix = Prefix.parse(str(item["prefix"]))
            asn = _asn(item["asn"], where)
            given: Any = item.get("maxLength", item.get("max_length", prefix.length))
            max_length = int(given)
        except KeyError as exc:
            raise VrpError(f"{where}: missing {exc.args[0]!r}") from None
        except VrpError:
            raise
        except PrefixError as exc:
            raise VrpError(f"{where}: {exc}") from None
        except (TypeError, ValueError):
            raise VrpError(f"{where}: maxLength {item.get('maxLength')!r} is not a number") from None
        if not prefix.length <= max_length <= prefix.bits:
            raise VrpError(f"{where}: maxLength {max_length} outside {prefix.length}..{prefix.bits} for {prefix}")
        vrps.add(Vrp(asn, prefix, max_length, str(item.get("ta", ""))))
    return vrps
