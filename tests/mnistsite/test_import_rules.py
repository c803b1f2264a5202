"""The project's module graph keeps its shape: no import cycles, pure code
stays pure, services never import tasks. Every import counts, including the
ones inside functions (a cycle hidden in a function is still a cycle).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("mnistsite", "recognizer", "training", "bench")
# Code with no Django in it, tested and benchmarked without a database: each
# pure package and the project packages it may import.
PURE = {
    "training.ml": ("training.ml",),
    "recognizer.imaging": ("recognizer.imaging", "training.ml"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    }


def imported_names(module: str, path: Path) -> set[str]:
    """Every dotted name `module` imports, absolute, wherever the import is."""
    names = set()
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], base]).strip(".")
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return names


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (a name imported from a
    package counts as its submodule when it is one)."""
    modules = project_modules()
    graph = {}
    for module, path in modules.items():
        targets = set()
        for name in imported_names(module, path):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module and not module.startswith(name + "."):
                targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    order, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in order:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], order[target])
        if low[node] == order[node]:
            group = []
            while not group or group[-1] != node:
                group.append(stack.pop())
                on_stack.discard(group[-1])
            if len(group) > 1:
                found.append(sorted(group))

    for node in graph:
        if node not in order:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_module_imports_itself_back():
    assert cycles(import_graph()) == []


def test_pure_packages_import_no_django_and_no_django_app_code():
    for module, path in project_modules().items():
        package = next((pure for pure in PURE if module.startswith(pure)), None)
        if package is None:
            continue
        for name in imported_names(module, path):
            top = name.split(".")[0]
            assert top not in ("django", "rest_framework", "celery"), (module, name)
            if top in PACKAGES:
                assert name.startswith(PURE[package]), (module, name)


def test_training_never_imports_the_recognizer():
    """recognizer -> training, never back: training is what makes models,
    the recognizer is one of its users."""
    for module, targets in import_graph().items():
        if module.startswith("training"):
            assert not [t for t in targets if t.startswith("recognizer")], module


def test_services_hand_work_to_workers_by_task_name_only():
    graph = import_graph()
    for module, targets in graph.items():
        if ".services" in module:
            assert not {t for t in targets if t.endswith(".tasks")}, module
