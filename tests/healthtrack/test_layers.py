"""The layer rule (docs/architecture.md), read from the source: every import of every module,
at the top or inside a function, and no code that loads an app by name at run time.

    healthtrack (project: urls, pages above the apps, portability, lifecycle, ...)
    insights
    goals
    metrics   nutrition
    accounts
    healthtrack.core (plumbing)

A layer imports only the layers below it; metrics and nutrition do not import each other.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "metrics", "nutrition", "goals", "insights")

# What each layer may import of the project (Django and libraries are always fine).
ALLOWED = {
    "core": {"core"},
    "accounts": {"core", "accounts"},
    "metrics": {"core", "accounts", "metrics"},
    "nutrition": {"core", "accounts", "nutrition"},
    "goals": {"core", "accounts", "metrics", "nutrition", "goals"},
    "insights": {"core", "accounts", "metrics", "nutrition", "goals", "insights"},
    "project": {"core", "accounts", "metrics", "nutrition", "goals", "insights", "project"},
}


def _layer(dotted: str) -> str | None:
    """The layer of a project module (None for Django and libraries)."""
    top = dotted.split(".")[0]
    if dotted == "healthtrack.core" or dotted.startswith("healthtrack.core."):
        return "core"
    if top == "healthtrack":
        return "project"
    if top in APPS:
        return top
    return None


def _modules() -> list[tuple[str, Path]]:
    found = []
    for package in (*APPS, "healthtrack"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found.append((".".join(parts), path))
    return found


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            # `from healthtrack import dashboard` imports healthtrack.dashboard.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if _layer(name) is not None}


def _violations(modules: list[tuple[str, Path]]) -> list[str]:
    found = []
    for module, path in modules:
        layer = _layer(module)
        for name in sorted(_imports(module, path)):
            target = _layer(name)
            # `healthtrack` alone (the package) is only a parent of what is imported.
            if name == "healthtrack":
                continue
            if target not in ALLOWED[layer]:
                found.append(f"{module} ({layer}) imports {name} ({target})")
    return found


def test_the_scan_sees_the_imports_it_judges():
    """The rule is only as good as the scan: a known import of each kind is found."""
    modules = dict(_modules())
    assert "accounts.models" in _imports("accounts.audit", modules["accounts.audit"])
    assert "healthtrack.core.hooks" in _imports("metrics.apps", modules["metrics.apps"])
    assert "metrics.dashboard" in _imports(
        "healthtrack.dashboard", modules["healthtrack.dashboard"]
    )
    assert _layer("healthtrack.core.outbox") == "core"
    assert _layer("healthtrack.dashboard") == "project"
    assert len(modules) > 200


def test_a_climbing_import_is_reported(tmp_path):
    """An import from a higher layer, written the ways code writes it, is caught; one from
    below is not."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from accounts import access\n"
        "def f():\n    from goals import services\n    import insights.models\n"
    )
    core = tmp_path / "core_bad.py"
    core.write_text("from . import charts\nfrom accounts.models import User\n")
    assert _violations([("metrics.bad", bad), ("healthtrack.core.bad", core)]) == [
        "metrics.bad (metrics) imports goals (goals)",
        "metrics.bad (metrics) imports goals.services (goals)",
        "metrics.bad (metrics) imports insights.models (insights)",
        "healthtrack.core.bad (core) imports accounts.models (accounts)",
        "healthtrack.core.bad (core) imports accounts.models.User (accounts)",
    ]


def test_no_module_imports_a_layer_above_its_own():
    assert _violations(_modules()) == []


@pytest.mark.parametrize("app", ["metrics", "nutrition"])
def test_metrics_and_nutrition_do_not_import_each_other(app):
    other = {"metrics": "nutrition", "nutrition": "metrics"}[app]
    offenders = [
        module
        for module, path in _modules()
        if _layer(module) == app and any(_layer(n) == other for n in _imports(module, path))
    ]
    assert offenders == []


# Loading code by a name computed at run time: importlib, Django's import_string, __import__,
# or an app config's module. (Django's own INSTALLED_APPS, URLconf includes and Celery's
# task autodiscovery are the framework's, configured in settings, and are not this.)
_LOADS_BY_NAME = re.compile(
    r"\bimportlib\b|\bimport_module\s*\(|\bimport_string\s*\(|\b__import__\s*\(|find_spec\s*\("
    r"|get_app_config\s*\([^)]*\)\s*\.\s*module\b|\.get_app_configs\s*\(\s*\)"
)


def test_nothing_loads_app_code_by_name():
    offenders = []
    for _module, path in _modules():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if _LOADS_BY_NAME.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_name_check_catches_app_hooks_discovery():
    """The removed accounts/app_hooks.py did exactly this; the check must see it."""
    old = (
        "for config in apps.get_app_configs():\n"
        "    loaded = importlib.import_module(f'{config.name}.dashboard')\n"
    )
    assert all(_LOADS_BY_NAME.search(line) for line in old.splitlines())


def _package_cycles(modules: list[tuple[str, Path]]) -> list[list[str]]:
    """Groups of packages that import each other round (a package: a folder of modules, e.g.
    `accounts` and `accounts.api` are two)."""
    known = dict(modules)
    package = {m: m if p.name == "__init__.py" else m.rpartition(".")[0] for m, p in modules}

    def module_of(name: str) -> str:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name

    edges: dict[str, set[str]] = {}
    for module, path in modules:
        for name in _imports(module, path):
            target = module_of(name)
            if target and package[target] != package[module]:
                edges.setdefault(package[module], set()).add(package[target])

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(edges.get(node, ()))
        return False

    cycles = []
    for source, targets in sorted(edges.items()):
        for target in sorted(targets):
            if source < target and reaches(target, source):
                cycles.append([source, target])
    return cycles


def test_no_two_packages_import_each_other():
    """The cycles that were (accounts <-> accounts.api through credentials and the JWT user
    cache; healthtrack.portability <-> its api through the upload limits) stay gone."""
    assert _package_cycles(_modules()) == []


def test_a_package_cycle_is_reported(tmp_path):
    (tmp_path / "a.py").write_text("from metrics.api import views\n")
    (tmp_path / "b.py").write_text("def f():\n    from metrics import a\n")
    modules = [("metrics.a", tmp_path / "a.py"), ("metrics.api.views", tmp_path / "b.py")]
    assert _package_cycles(modules) == [["metrics", "metrics.api"]]
