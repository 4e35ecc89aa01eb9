"""The rule for reads and validation (docs/architecture.md, "Reads and validation"), checked on
the source:

- reads: rows come from QuerySet methods, computed reads from the module named for what they
  compute; there is no `selectors` module anywhere;
- validation: the rules are in `<app>/validation.py`, a service calls them before it writes,
  `full_clean()` is called only from a validation module, and a model carries no rule of its
  own (a `clean()` only hands over to the validation module); outside the validation modules
  and the doors (forms, serializers, admin forms) only the modules listed in
  `RAISERS_OUTSIDE_VALIDATION`, each with its reason, raise Django's `ValidationError`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "metrics", "nutrition", "goals", "insights")
PACKAGES = (*APPS, "healthtrack")


def source_files() -> list[Path]:
    """Every module of the apps and the project package, migrations left out."""
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    )


def relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root))


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def imported_modules(tree: ast.Module) -> set[str]:
    """The dotted names a module imports (`from a import b` counts as `a` and `a.b`)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def selector_modules(files: list[Path], root: Path = ROOT) -> list[str]:
    """Modules or packages named `selectors`, and imports of one."""
    found = [relative(p, root) for p in files if "selectors" in (p.stem, p.parent.name)]
    for path in files:
        if any(name.split(".")[-1] == "selectors" for name in imported_modules(parsed(path))):
            found.append(f"{relative(path, root)} imports a selectors module")
    return found


def full_clean_callers(files: list[Path], root: Path = ROOT) -> list[str]:
    """`x.full_clean(...)` calls outside a `validation.py`."""
    found = []
    for path in files:
        if path.name == "validation.py":
            continue
        for node in ast.walk(parsed(path)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "full_clean"
            ):
                found.append(f"{relative(path, root)}:{node.lineno}")
    return found


def _hands_over_to_validation(method: ast.FunctionDef) -> bool:
    body = [
        stmt
        for stmt in method.body
        if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
    ]
    if len(body) != 1 or not isinstance(body[0], ast.Expr | ast.Return):
        return False
    call = body[0].value
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id == "validation"
    )


def rules_in_models(files: list[Path], root: Path = ROOT) -> list[str]:
    """In a models module: a `raise ValidationError`, or a `clean()` that does more than call
    the validation module."""
    found = []
    for path in files:
        if not path.name.endswith("models.py"):
            continue
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.Raise) and "ValidationError" in ast.unparse(node):
                found.append(f"{relative(path, root)}:{node.lineno} raises ValidationError")
            if (
                isinstance(node, ast.FunctionDef)
                and node.name == "clean"
                and not _hands_over_to_validation(node)
            ):
                found.append(f"{relative(path, root)}:{node.lineno} clean() holds rules")
    return found


def services_without_validation(root: Path = ROOT) -> list[str]:
    """Apps whose `services.py` does not import the app's own `validation` module."""
    missing = []
    for app in APPS:
        services = root / app / "services.py"
        names = imported_modules(parsed(services))
        if f"{app}.validation" not in names:
            missing.append(f"{app}/services.py")
    return missing


#: Doors check the shape of the input (docs/architecture.md) and may raise it themselves.
DOOR_MODULE = re.compile(r"^(forms|admin\w*|\w*serializers)\.py$")

#: Write modules that still raise Django's `ValidationError` themselves, and why. Every other
#: module outside the validation modules and the doors leaves that to a validation function.
RAISERS_OUTSIDE_VALIDATION = {
    "accounts/care.py": "the clinician looked up by e-mail (a stored row)",
    "accounts/family.py": "member count under the manager's lock; access, grantee (stored rows)",
    "accounts/otp.py": "the account's state (staff, a confirmed device), not an input field",
    "metrics/services.py": "stored rows (device owner, blood-pressure partner, external_id); "
    "device_sync's batch shape (a list, at most MAX_SYNC_SAMPLES) is not moved yet",
    "nutrition/photos.py": "what decoding the uploaded file finds (size, kind, pixels)",
    "nutrition/services.py": "the catalogue food a text matches (stored rows)",
    "goals/services.py": "at most MAX_ACTIVE_GOALS active goals (stored rows, under the lock)",
    "goals/care_programs/programs.py": "active-program count (stored rows); a read's cursor",
    "goals/care_programs/program_logs.py": "the program's days, the owner's device, a log "
    "already reviewed (stored rows)",
    "insights/handling.py": "the locked alert's kind and status; the care team (stored rows)",
}


def validation_error_raisers(files: list[Path], root: Path = ROOT) -> list[str]:
    """Modules, other than a `validation.py` or a door, that raise Django's `ValidationError`
    (imported by that name from `django.core.exceptions`)."""
    found = []
    for path in files:
        if path.name == "validation.py" or DOOR_MODULE.match(path.name):
            continue
        tree = parsed(path)
        imports_it = any(
            isinstance(node, ast.ImportFrom)
            and node.module == "django.core.exceptions"
            and any(
                alias.name == "ValidationError" and alias.asname is None for alias in node.names
            )
            for node in tree.body
        )
        raises_it = any(
            isinstance(node, ast.Raise)
            and isinstance(node.exc, ast.Call)
            and isinstance(node.exc.func, ast.Name)
            and node.exc.func.id == "ValidationError"
            for node in ast.walk(tree)
        )
        if imports_it and raises_it:
            found.append(relative(path, root))
    return found


def test_no_module_is_a_selectors_module():
    assert selector_modules(source_files()) == []


def test_full_clean_is_called_only_by_validation_modules():
    assert full_clean_callers(source_files()) == []


def test_models_carry_no_validation_rules_of_their_own():
    assert rules_in_models(source_files()) == []


def test_every_apps_services_check_through_its_validation_module():
    for app in APPS:
        assert (ROOT / app / "validation.py").is_file(), f"{app} has no validation.py"
    assert services_without_validation() == []


def test_input_checks_live_in_validation_modules_or_are_listed_with_a_reason():
    unlisted = set(validation_error_raisers(source_files())) - set(RAISERS_OUTSIDE_VALIDATION)
    assert sorted(unlisted) == []


def test_the_raiser_check_finds_an_inline_check_and_spares_validation_and_doors(tmp_path):
    check = (
        "from django.core.exceptions import ValidationError\n\n"
        "def clean_x(x):\n"
        "    if not x:\n"
        "        raise ValidationError({'x': ['Required.']})\n"
    )
    for name in ("handling.py", "validation.py", "forms.py", "care_serializers.py"):
        (tmp_path / name).write_text(check)
    (tmp_path / "other.py").write_text("from django.core.exceptions import ValidationError\n")
    assert validation_error_raisers(sorted(tmp_path.iterdir()), tmp_path) == ["handling.py"]


def test_the_checks_find_a_broken_rule(tmp_path):
    """Each check reports code that breaks the rule (so an empty answer above means
    something)."""
    (tmp_path / "selectors.py").write_text("")
    (tmp_path / "views.py").write_text(
        "from metrics import selectors\n\ndef view(device):\n    device.full_clean()\n"
    )
    (tmp_path / "models.py").write_text(
        "from django.core.exceptions import ValidationError\n\n"
        "class Goal:\n"
        "    def clean(self):\n"
        "        if self.target < 0:\n"
        "            raise ValidationError({'target': ['Too low.']})\n"
    )
    files = sorted(tmp_path.iterdir())
    assert selector_modules(files, tmp_path) == [
        "selectors.py",
        "views.py imports a selectors module",
    ]
    assert full_clean_callers(files, tmp_path) == ["views.py:4"]
    assert rules_in_models(files, tmp_path) == [
        "models.py:4 clean() holds rules",
        "models.py:6 raises ValidationError",
    ]

    for app in APPS:
        (tmp_path / app).mkdir()
        (tmp_path / app / "services.py").write_text(f"from {app}.validation import clean_x\n")
    (tmp_path / "goals" / "services.py").write_text("from goals.models import HealthGoal\n")
    assert services_without_validation(tmp_path) == ["goals/services.py"]
