"""The README documents every config key and starts with the two commands CI relies on."""

from __future__ import annotations

from pathlib import Path

from tui.config import SCHEMA

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_config_key_is_documented():
    missing = []
    for section, keys in SCHEMA.items():
        for key, (kind, _) in keys.items():
            dotted = f"{section}.{key}" if section else key
            if kind in ("table", "list[table]"):
                documented = f"[{dotted}]" in README or f"[[{dotted}]]" in README or f"{key}`" in README
            else:
                documented = f" {key}` |" in README or f"`{key}` |" in README or f".{key}` |" in README
            if not documented:
                missing.append(dotted)
    assert missing == []


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
