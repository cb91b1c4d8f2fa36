"""The house rules of the layout, read from the code's own imports (every import, module
level or inside a function):

- the core (`intake.domain`, `intake.services`, `intake.reporting`, `intake.delivery`,
  `intake.ops` and the shared modules) never imports a door or the composition root;
- a door (`intake.http`, `intake.cli`, `bot.slack`, `bot.teams`, `bot.chat`) never imports
  another door; the chat doors share `bot.chat`; only the CLI may import the composition
  root (`intake.app`), which `meld serve` starts;
- `bot/` never imports `storage/`: the chat doors reach the database through the use cases;
- no import circles between modules;
- no module longer than MAX_LINES, except the named ones that are one cohesive thing.

A change that breaks one of these fails here with the offending import named.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("intake", "bot", "storage")
MAX_LINES = 500
# one cohesive thing each, longer than MAX_LINES (say why when adding one)
LONG_BUT_COHESIVE: dict[str, str] = {
    # not yet split (the restructure's next steps): each entry here is a debt, not a licence
}

COMPOSITION_ROOT = "intake.app"
DOORS = ("intake.http", "intake.cli", "bot.slack", "bot.teams", "bot.chat")
# a door may use these other doors
SHARED_DOOR_PARTS = {"bot.slack": ("bot.chat",), "bot.teams": ("bot.chat",),
                     "intake.cli": (COMPOSITION_ROOT,)}


def _modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


MODULES = dict(_modules())


def _resolve(name: str) -> str | None:
    """The project module an imported name lives in (a name imported from a package counts
    as the package, or the submodule when it is one)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] or [node.module]
        else:
            continue
        for name in names:
            target = _resolve(name)
            if target and target != module:
                found.add(target)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def _door_of(module: str) -> str | None:
    return next((d for d in DOORS if module == d or module.startswith(d + ".")), None)


def _is_core(module: str) -> bool:
    return (module.startswith("intake") and _door_of(module) is None
            and module != COMPOSITION_ROOT)


def test_the_graph_was_read() -> None:
    """The rules below would pass on nothing: make sure the imports were found."""
    assert len(MODULES) > 60
    assert "intake.services" in GRAPH["bot.slack.listeners"]
    assert "intake.http.api" in GRAPH[COMPOSITION_ROOT]


def test_the_core_imports_no_door_and_not_the_composition_root() -> None:
    bad = sorted((m, t) for m, targets in GRAPH.items() if _is_core(m) for t in targets
                 if _door_of(t) or t == COMPOSITION_ROOT)
    assert bad == []


def test_the_domain_is_the_bottom_layer() -> None:
    """intake.domain imports nothing of Meld but the message catalogue (intake.i18n)."""
    bad = sorted((m, t) for m, targets in GRAPH.items() if m.startswith("intake.domain")
                 for t in targets if not t.startswith(("intake.domain", "intake.i18n")))
    assert bad == []


def test_doors_never_import_each_other() -> None:
    bad = []
    for module, targets in GRAPH.items():
        door = _door_of(module)
        if door is None:
            continue
        allowed = SHARED_DOOR_PARTS.get(door, ())
        for target in targets:
            other = _door_of(target) or (target if target == COMPOSITION_ROOT else None)
            if other and other != door and other not in allowed:
                bad.append((module, target))
    assert sorted(bad) == []


def test_the_chat_doors_never_touch_storage() -> None:
    bad = sorted((m, t) for m, targets in GRAPH.items() if m.startswith("bot")
                 for t in targets if t.startswith("storage"))
    assert bad == []


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    return found


def test_no_import_circles() -> None:
    assert _cycles() == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_too_long(module: str) -> None:
    lines = len(MODULES[module].read_text().splitlines())
    if module in LONG_BUT_COHESIVE:
        return
    assert lines <= MAX_LINES, (
        f"{module} has {lines} lines: split it by responsibility, or name it in "
        "LONG_BUT_COHESIVE with the reason it is one thing")


def test_the_rules_catch_a_violation() -> None:
    """The checks can fail: a door importing a door and a circle are found."""
    GRAPH["intake.cli.main"].add("bot.slack.app")
    GRAPH["intake.domain.model"].add("intake.domain.privacy")
    GRAPH["intake.domain.privacy"].add("intake.domain.model")
    try:
        with pytest.raises(AssertionError):
            test_doors_never_import_each_other()
        assert any("intake.domain.model" in c for c in _cycles())
    finally:
        GRAPH["intake.cli.main"].discard("bot.slack.app")
        GRAPH["intake.domain.model"] = imports_of("intake.domain.model")
        GRAPH["intake.domain.privacy"] = imports_of("intake.domain.privacy")
