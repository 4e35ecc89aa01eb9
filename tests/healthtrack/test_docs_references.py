"""Every file path and dotted Python name the docs quote in backticks exists in the code.

For README.md, bench/README.md and every docs/*.md: a backticked repository path
(`metrics/services.py`, `healthtrack/core/`) must exist, and a backticked dotted name whose first
part is a project package (`accounts.access.owner_to_read`) must resolve: the longest importable
module prefix is imported and the rest looked up with getattr. Celery task names such as
`accounts.tasks.relay_outbox` are the functions in that module, so they resolve the same way;
a Celery task name (`goals.recompute_goal_progress`), a model label (`metrics.HealthMetric`), a
logger name (`healthtrack.access`) and a system check id (`accounts.E003`) count too. A migration
may be quoted by its name (`accounts/0012_outbox_and_idempotency_to_core`), and a function in a
test helper as `tests/healthtrack/servers.two_web_servers`. A bare file name (`selectors.py`) must
be the name of some file in the repository.
Fenced code blocks are skipped (shell sessions, sample output). A name that is quoted on purpose
although it no longer exists goes in ALLOWED with the reason.
"""

from __future__ import annotations

import functools
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    ROOT / "README.md",
    ROOT / "bench" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
PACKAGES = (
    "accounts",
    "metrics",
    "goals",
    "insights",
    "nutrition",
    "healthtrack",
    "tests",
    "bench",
)
TOP_DIRS = (*PACKAGES, "templates", "static", "docs", "deploy")

# (page name, quoted text) -> why it may name something that does not exist.
ALLOWED: dict[tuple[str, str], str] = {
    ("testing.md", "tests/screenshots/"): "written by the browser tests when they run; not in git",
    (
        "architecture.md",
        "selectors.py",
    ): "says there is none any more (reads moved out in issue 21)",
    ("scaling.md", "healthtrack/gunicorn_conf.py"): "a past round's change, in its history table",
}

FENCE = re.compile(r"^\s*```.*?^\s*```", re.MULTILINE | re.DOTALL)
CODE = re.compile(r"`([^`\n]+)`")
DOTTED = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")
PATH = re.compile(r"^[\w.-]+(?:/[\w.-]*)+$")
FILE_SUFFIXES = (
    *(".py", ".md", ".html", ".txt", ".json", ".yml", ".yaml", ".css", ".js", ".svg", ".csv"),
)
CHECK_ID = re.compile(r"^\w+\.[EW]\d{3}$")
LOGGER = re.compile(r"""getLogger\(["']([\w.]+)["']\)""")


def quoted(markdown: str) -> list[str]:
    """Inline code spans outside fenced blocks."""
    return CODE.findall(FENCE.sub("", markdown))


def _candidate(span: str) -> str:
    """The reference in a span: `x.py:12`, `x.py::test`, `f()` and `f(a=1)` drop their tails."""
    text = span.strip().split()[0] if span.strip() else ""
    text = text.split("::")[0].split("(")[0]
    text = re.sub(r":\d*$", "", text)
    return text.rstrip(",;:")


@functools.cache
def _celery_task_names() -> set[str]:
    from healthtrack.celery import app

    app.loader.import_default_modules()
    return set(app.tasks)


@functools.cache
def _logger_names() -> set[str]:
    names = set()
    for package in PACKAGES[:6]:
        for path in (ROOT / package).rglob("*.py"):
            names.update(LOGGER.findall(path.read_text()))
    return names


def _model_label(dotted: str) -> bool:
    from django.apps import apps

    try:
        apps.get_model(dotted)
    except (LookupError, ValueError):
        return False
    return True


def known_name(dotted: str) -> bool:
    """A name that is not a Python object path but still real."""
    return (
        bool(CHECK_ID.match(dotted))
        or _model_label(dotted)
        or dotted in _celery_task_names()
        or dotted in _logger_names()
    )


def path_exists(ref: str, root: Path) -> bool:
    head, _, last = ref.rstrip("/").rpartition("/")
    if (root / ref).exists() or (root / f"{ref}.py").exists():
        return True
    if re.match(r"^\d{4}_\w+$", last):  # accounts/0012_name: a migration
        return (root / head / "migrations" / f"{last}.py").exists()
    module, _, attribute = last.partition(".")  # tests/x/servers.two_web_servers
    if attribute and (root / head / f"{module}.py").exists():
        return resolves(f"{head.replace('/', '.')}.{module}.{attribute}")
    return False


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as exc:
            if exc.name and not ".".join(parts[:cut]).startswith(exc.name):
                raise  # a module that exists failed to import: a real error, not a stale name
            continue
        for name in parts[cut:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


def problems(page: Path, root: Path = ROOT) -> list[str]:
    found = []
    for span in quoted(page.read_text()):
        ref = _candidate(span)
        if not ref or (page.name, span) in ALLOWED or (page.name, ref) in ALLOWED:
            continue
        if any(mark in ref for mark in ("*", "<", "{", "...", "…")):
            continue
        if "/" in ref:
            in_repo = PATH.match(ref) and ref.split("/")[0] in TOP_DIRS
            if in_repo and not path_exists(ref, root):
                found.append(f"`{span}`: no such file or folder")
            continue
        if re.match(r"^\w+\.py$", ref):
            if not (root / ref).exists() and not any(
                next((root / top).rglob(ref), None) for top in TOP_DIRS if (root / top).is_dir()
            ):
                found.append(f"`{span}`: no file of that name in the repository")
            continue
        if ref.endswith(FILE_SUFFIXES) or not DOTTED.match(ref):
            continue
        if ref.split(".")[0] in PACKAGES and not (resolves(ref) or known_name(ref)):
            found.append(f"`{span}`: {ref} does not resolve")
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_quoted_path_and_dotted_name_exists(page):
    assert problems(page) == []


def test_the_allow_list_names_only_what_the_pages_still_quote():
    for (name, text), reason in ALLOWED.items():
        page = next(p for p in PAGES if p.name == name)
        assert f"`{text}`" in page.read_text(), (name, text)
        assert reason


def test_a_stale_path_or_name_is_reported(tmp_path):
    (tmp_path / "accounts").mkdir()
    (tmp_path / "accounts" / "access.py").write_text("")
    (tmp_path / "accounts" / "migrations").mkdir()
    (tmp_path / "accounts" / "migrations" / "0001_initial.py").write_text("")
    page = tmp_path / "page.md"
    page.write_text(
        "`accounts/access.py` `accounts/access.py:12` `accounts/selectors.py`\n"
        "`accounts.access.owner_to_read(request)` `accounts.access.viewed_owner`\n"
        "`accounts.tasks.relay_outbox` `goals.selectors.summary` `goals.py` `x.y`\n"
        "`goals.recompute_goal_progress` `metrics.HealthMetric` `accounts.OutboxTask`\n"
        "`accounts.E003` `healthtrack.access` `accounts/0001_initial` `accounts/0099_gone`\n"
        "`accounts/*.py` `make test` `django.db.models` `access.py` `selectors.py`\n\n"
        "```\n`accounts/gone.py` `metrics.gone`\n```\n"
    )
    assert problems(page, root=tmp_path) == [
        "`accounts/selectors.py`: no such file or folder",
        "`accounts.access.viewed_owner`: accounts.access.viewed_owner does not resolve",
        "`goals.selectors.summary`: goals.selectors.summary does not resolve",
        "`goals.py`: no file of that name in the repository",
        "`accounts.OutboxTask`: accounts.OutboxTask does not resolve",
        "`accounts/0099_gone`: no such file or folder",
        "`selectors.py`: no file of that name in the repository",
    ]
