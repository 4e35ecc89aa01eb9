"""The README's Make target table lists exactly the Makefile's targets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

RULE = re.compile(r"^([A-Za-z][\w-]*)\s*:(?!=)", re.MULTILINE)
PHONY = re.compile(r"^\.PHONY\s*:(.*)$", re.MULTILINE)
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|", re.MULTILINE)


def makefile_targets(text: str) -> tuple[set[str], set[str]]:
    """The targets that have a rule, and those declared .PHONY."""
    rules = set(RULE.findall(text))
    phony = {name for line in PHONY.findall(text) for name in line.split()}
    return rules, phony


def readme_targets(text: str) -> list[str]:
    """The targets named in the first column of the README's "## Make targets" table."""
    match = re.search(r"^## Make targets\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    if match is None:
        raise AssertionError('README.md has no "## Make targets" section')
    return ROW.findall(match.group(1))


def mismatch(makefile: str, readme: str) -> list[str]:
    """Every disagreement between the Makefile and the README's table, in words."""
    rules, phony = makefile_targets(makefile)
    listed = readme_targets(readme)
    problems = [f"in .PHONY without a rule: {name}" for name in sorted(phony - rules)]
    problems += [f"a rule not in .PHONY: {name}" for name in sorted(rules - phony)]
    problems += [
        f"listed twice in the README: {n}" for n in sorted(set(listed)) if listed.count(n) > 1
    ]
    problems += [f"in the README, not in the Makefile: {n}" for n in sorted(set(listed) - rules)]
    problems += [f"in the Makefile, not in the README: {n}" for n in sorted(rules - set(listed))]
    return problems


def test_the_readme_lists_exactly_the_makefiles_targets():
    makefile = (ROOT / "Makefile").read_text()
    readme = (ROOT / "README.md").read_text()
    assert mismatch(makefile, readme) == []
    assert {"run", "test"} <= set(readme_targets(readme))


MAKEFILE = """\
PYTHON ?= python3
VENV   := .venv
.PHONY: run test lint

$(VENV)/.runtime: requirements.txt
\ttouch $@

run: install
\tpython manage.py runserver

test:
\tpytest

lint:
\truff check .
"""

TABLE = """\
# Project

## Make targets

| target | what it does |
|---|---|
{rows}

## Next
| `elsewhere` | not a target row |
"""


def _readme(*names: str) -> str:
    return TABLE.format(rows="\n".join(f"| `{name}` | something |" for name in names))


def test_a_matching_table_passes():
    assert mismatch(MAKEFILE, _readme("run", "test", "lint")) == []


@pytest.mark.parametrize(
    "names, problem",
    [
        (("run", "test"), "in the Makefile, not in the README: lint"),
        (("run", "test", "lint", "deploy"), "in the README, not in the Makefile: deploy"),
        (("run", "test", "lint", "lint"), "listed twice in the README: lint"),
    ],
)
def test_a_table_that_disagrees_with_the_makefile_is_refused(names, problem):
    assert problem in mismatch(MAKEFILE, _readme(*names))


def test_a_rule_missing_from_phony_is_refused():
    makefile = MAKEFILE + "\nclean:\n\trm -rf .venv\n"
    assert "a rule not in .PHONY: clean" in mismatch(
        makefile, _readme("run", "test", "lint", "clean")
    )


def test_a_readme_without_the_section_is_refused():
    with pytest.raises(AssertionError, match="no .## Make targets. section"):
        readme_targets("# Project\n\nNothing here.\n")
