"""The layers of ``tui/``, as data, checked on every import of every module.

Each layer may import the layers below it, never one above, and never a sibling in its own
layer. Every ``import`` statement counts, wherever it is: at module level, inside a function
or a method, under ``if TYPE_CHECKING:`` (types are a dependency too). The check reads the
source (an AST walk), so an import that only runs on some path is checked all the same, and
a failure names the file, the line and the rule broken. (import-linter's grimp would see the
same imports; this needs no dependency and says why a rule exists.)

Third-party libraries have homes too: Textual and Rich only in the console, the NATS client
only in the bus, and so on (:data:`LIBRARIES`). tests/test_import_hygiene.py checks at run
time what the core and the headless commands actually load.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "tui"


@dataclass(frozen=True)
class Layer:
    """One layer: the packages/modules in it (siblings, independent of each other) and why it is there."""

    name: str
    modules: tuple[str, ...]
    why: str


LAYERS: tuple[Layer, ...] = (
    Layer("root", ("tui",), "the package itself: its version, nothing else"),
    Layer("core", ("tui.core",), "pure model and detectors: no I/O, nothing above it may leak in"),
    Layer("config", ("tui.config",), "settings: parses and reads the TOML file into core values"),
    Layer("feeds", ("tui.feeds",), "adapters: the outside world (files, network) turned into core events"),
    Layer(
        "journal/bus/alerts", ("tui.journal", "tui.bus", "tui.alerts"),
        "where events go: the journal records and replays them, the bus publishes them, alerts send "
        "findings; independent of each other",
    ),
    Layer("runtime", ("tui.runtime",), "builds the engine from the config and drives it: the one place the parts meet"),
    Layer(
        "console", ("tui.console",),
        "all Textual code: a view over the runtime; it never needs the commands (it is opened by them)",
    ),
    Layer(
        "commands", ("tui.commands",),
        "one module per sub-command: options and output; may open the console (its entry points, "
        "imported lazily so a headless command never loads Textual)",
    ),
    Layer("cli", ("tui.cli",), "parses the command line, maps every layer's errors to exit codes"),
    Layer("entry", ("tui.__main__",), "`python -m tui`: runs the command line"),
)
"""Lowest first. A module belongs to the layer of its longest matching name."""

LIBRARIES: dict[str, tuple[str, ...]] = {
    "textual": ("tui.console",),
    "textual_plotext": ("tui.console",),
    "rich": ("tui.console",),
    "nats": ("tui.bus",),
    "websockets": ("tui.feeds",),
    "dns": ("tui.feeds",),
    "pybgpstream": ("tui.feeds",),
    "bgpkit": ("tui.feeds",),
    "sqlite3": ("tui.journal",),
}
"""Third-party (and I/O) modules that only some parts may import, by top-level name."""


@dataclass(frozen=True)
class Import:
    """One import statement's target, where it is, and how it is reached."""

    path: Path
    line: int
    importer: str
    target: str
    where: str
    """``module level``, ``inside a function`` or ``under TYPE_CHECKING``."""


def module_name(path: Path, root: Path) -> str:
    """``tui/feeds/mrt/_reader.py`` → ``tui.feeds.mrt._reader``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _targets(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = importer.split(".") if is_package else importer.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        module = ".".join([*base, *([node.module] if node.module else [])])
    else:
        module = node.module or ""
    # `from tui.feeds import ripestat` imports a submodule: the name says which one.
    return [f"{module}.{alias.name}" if alias.name != "*" else module for alias in node.names]


def imports_of(path: Path, root: Path) -> list[Import]:
    """Every import in the file at ``path``, wherever it is."""
    importer = module_name(path, root)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            here = where
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                here = "inside a function"
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                here = "under TYPE_CHECKING"
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in _targets(child, importer, path.name == "__init__.py"):
                    found.append(Import(path, child.lineno, importer, target, here))
            visit(child, here)

    visit(tree, "module level")
    return found


def _owner(module: str, names: tuple[str, ...] | list[str]) -> str | None:
    """The longest of ``names`` that ``module`` is or is inside."""
    matches = [n for n in names if module == n or module.startswith(n + ".")]
    return max(matches, key=len) if matches else None


def layer_of(module: str) -> tuple[int, str] | None:
    """(index of the layer, the package or module it is listed as) for a ``tui`` module."""
    best: tuple[int, str] | None = None
    for index, layer in enumerate(LAYERS):
        owner = _owner(module, layer.modules)
        if owner is not None and (best is None or len(owner) > len(best[1])):
            best = (index, owner)
    return best


def broken_rules(root: Path = ROOT) -> list[str]:
    """One message per import that breaks a rule (empty when the tree keeps them all)."""
    problems: list[str] = []
    for path in sorted(root.rglob("*.py")):
        where_file = path.relative_to(root.parent)
        module = module_name(path, root)
        mine = layer_of(module)
        if mine is None:
            problems.append(f"{where_file}: {module} is in no layer; add it to LAYERS in tests/test_layers.py")
            continue
        said: set[tuple[int, str]] = set()  # one message per statement and imported part
        for imp in imports_of(path, root):
            at = f"{where_file}:{imp.line}: {module} imports {imp.target} ({imp.where})"
            top = imp.target.split(".")[0]
            if top != "tui":
                homes = LIBRARIES.get(top)
                if homes is not None and _owner(module, homes) is None and (imp.line, top) not in said:
                    said.add((imp.line, top))
                    problems.append(f"{at}: {top} belongs in {', '.join(homes)} only (LIBRARIES)")
                continue
            theirs = layer_of(imp.target)
            if theirs is None:
                continue  # not a module of this tree (a typo fails at import, not here)
            (mine_index, mine_owner), (their_index, their_owner) = mine, theirs
            if mine_owner == their_owner or (imp.line, their_owner) in said:
                continue  # inside one package or module of a layer, or said already
            said.add((imp.line, their_owner))
            layer, other = LAYERS[mine_index], LAYERS[their_index]
            if their_index > mine_index:
                problems.append(
                    f"{at}: layer {layer.name!r} may not import layer {other.name!r} above it "
                    f"({other.name}: {other.why})"
                )
            elif their_index == mine_index:
                problems.append(
                    f"{at}: {mine_owner} and {their_owner} are siblings in layer {layer.name!r} and "
                    f"independent of each other ({layer.why})"
                )
    return problems


def test_every_import_keeps_the_layer_rules():
    problems = broken_rules()
    assert not problems, "layer rules broken (tests/test_layers.py):\n" + "\n".join(problems)


def test_every_module_is_in_a_layer_and_the_walk_sees_them_all():
    modules = {module_name(p, ROOT) for p in ROOT.rglob("*.py")}
    assert {"tui", "tui.cli", "tui.core.engine", "tui.feeds.mrt._reader", "tui.console.app"} <= modules
    assert all(layer_of(m) is not None for m in modules)


# -- the check itself catches what it is for ------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "tui"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_a_bad_import_at_module_level_is_named_with_file_line_and_rule(tmp_path):
    root = _tree(tmp_path, {
        "__init__.py": "", "cli.py": "", "feeds/__init__.py": "",
        "feeds/x.py": "from __future__ import annotations\n\nfrom tui.cli import main\n",
    })
    [problem] = broken_rules(root)
    assert problem.startswith("tui/feeds/x.py:3: tui.feeds.x imports tui.cli.main (module level): ")
    assert "layer 'feeds' may not import layer 'cli' above it" in problem


def test_imports_inside_functions_under_type_checking_and_relative_ones_count(tmp_path):
    root = _tree(tmp_path, {
        "__init__.py": "", "journal/__init__.py": "", "bus/__init__.py": "", "console/__init__.py": "",
        "commands/__init__.py": "",
        "journal/store.py": "def f():\n    import textual\n    from ..bus import nats\n",
        "core/__init__.py": "",
        "core/x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tui.journal.store import f\n",
        "console/app.py": "class A:\n    def m(self):\n        from tui.commands import UsageError\n",
    })
    problems = broken_rules(root)
    assert any(p.startswith("tui/journal/store.py:2: tui.journal.store imports textual (inside a function): ")
               and "textual belongs in tui.console only" in p for p in problems)
    assert any(p.startswith("tui/journal/store.py:3: tui.journal.store imports tui.bus.nats (inside a function): ")
               and "siblings in layer 'journal/bus/alerts'" in p for p in problems)
    assert any(p.startswith("tui/core/x.py:3: tui.core.x imports tui.journal.store.f (under TYPE_CHECKING): ")
               for p in problems)
    assert any(p.startswith("tui/console/app.py:3: tui.console.app imports tui.commands.UsageError (inside a function): ")
               and "layer 'console' may not import layer 'commands'" in p for p in problems)
    assert len(problems) == 4


@pytest.mark.parametrize("text", ["import tui.cli\n", "def f():\n    from tui import cli\n"])
def test_importing_the_top_from_below_is_refused_either_way(tmp_path, text):
    root = _tree(tmp_path, {"__init__.py": "", "cli.py": "", "core/__init__.py": "", "core/y.py": text})
    [problem] = broken_rules(root)
    assert "tui.core.y imports tui.cli" in problem
