"""The README documents every config key, as the schema does, and starts with the commands CI relies on."""

from __future__ import annotations

import re
from pathlib import Path

from tui.config import SCHEMA

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")

ROW = re.compile(r"\| `(?P<key>[^`]+)` \| (?P<kind>[^|]+?) \| (?P<meaning>.+) \|")


def _kind(path: str) -> str:
    parent, _, last = path.rpartition(".")
    return SCHEMA.get(parent, {}).get(last, ("",))[0]


def readme_key(section: str, key: str) -> str:
    """How the README names a key: as written in the TOML file, under its table's header.

    ``theme``; ``[feeds]`` and ``[[watch]]`` for tables; ``[dns] interval``,
    ``[[zone]] name``; a table inside a list of tables is written inline:
    ``[[watch]] thresholds``, ``[[watch]] thresholds.visibility_warn``.
    """
    path = f"{section}.{key}" if section else key
    parts = path.split(".")
    for end in range(len(parts) - 1, 0, -1):
        if _kind(".".join(parts[:end])) == "list[table]":
            return f"[[{'.'.join(parts[:end])}]] {'.'.join(parts[end:])}"
    kind = _kind(path)
    if kind == "list[table]":
        return f"[[{path}]]"
    if kind == "table":
        return f"[{path}]"
    return f"[{section}] {key}" if section else key


def schema_rows() -> dict[str, tuple[str, str]]:
    """Every key of the config schema as the README's table should show it: name -> (type, meaning)."""
    return {readme_key(section, key): entry for section, keys in SCHEMA.items() for key, entry in keys.items()}


def readme_rows() -> list[tuple[str, str, str]]:
    """The rows of the README's key table, refusing any line that is not a well-formed row."""
    table = README.split("\nEvery key:\n", 1)[1].lstrip("\n").split("\n\n", 1)[0].splitlines()
    assert table[:2] == ["| key | type | meaning |", "|---|---|---|"]
    rows = []
    for line in table[2:]:
        match = ROW.fullmatch(line)
        assert match, f"not a key-table row: {line!r}"
        rows.append((match["key"], match["kind"], match["meaning"]))
    return rows


def test_the_readme_key_table_is_the_config_schema_row_for_row():
    rows = readme_rows()
    names = [key for key, _, _ in rows]
    assert sorted({n for n in names if names.count(n) > 1}) == []  # no key documented twice
    documented = {key: (kind, meaning) for key, kind, meaning in rows}
    expected = schema_rows()
    assert sorted(set(expected) - set(documented)) == []  # in the schema, missing from the README
    assert sorted(set(documented) - set(expected)) == []  # in the README, not a key of the schema
    wrong = {key: (documented[key], want) for key, want in expected.items() if documented[key] != want}
    assert wrong == {}  # (README, schema): type and meaning as in tui/config.py


def test_readme_opens_with_the_run_and_test_commands_ci_uses():
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert "make run" in first_block and "make test" in first_block
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "make test"


def test_the_readme_example_config_is_accepted():
    from tui.config import parse_config

    example = README.split("```toml", 1)[1].split("```", 1)[0]
    config = parse_config(example, "README.md")
    assert [w.name for w in config.watches] == ["North Korea"]
    assert config.zone("kp.").nameservers == ("127.0.0.1:5353", "[::1]:5353")
    assert config.keys == {"replay.jump": "t"} and config.alerts.webhooks[0].format == "slack"
