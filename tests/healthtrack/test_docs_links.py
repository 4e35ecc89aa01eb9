"""Every relative link in README.md and docs/*.md points to a file that exists, and a link to
a heading (`file.md#anchor`, `#anchor`) to a heading that exists in that file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in HEADING.findall(FENCE.sub("", markdown)):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def links(markdown: str) -> list[str]:
    """Link targets outside code blocks and inline code."""
    return LINK.findall(CODE.sub("", FENCE.sub("", markdown)))


def broken_links(page: Path) -> list[str]:
    problems = []
    for target in links(page.read_text()):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        file = (page.parent / path_part).resolve() if path_part else page
        if not file.exists():
            problems.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text()):
            problems.append(f"{target}: no heading with that anchor in {file.name}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_something_that_exists(page):
    assert broken_links(page) == []


def test_the_docs_have_pages_to_check():
    names = {p.name for p in PAGES}
    assert {"README.md", "developers.md", "operations.md", "testing.md"} <= names


def test_a_link_to_a_missing_file_or_heading_is_reported(tmp_path):
    (tmp_path / "there.md").write_text("# Title\n\n## Meal photos (`nutrition/photos.py`)\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok](there.md#meal-photos-nutritionphotospy) [ok](#here)\n"
        "[gone](missing.md) [bad](there.md#nowhere) ![img](pic.png) [web](https://x.org/a)\n"
        "`[code](not-a-link.md)`\n\n```\n[fenced](also-not.md)\n```\n\n## Here\n"
    )
    assert broken_links(page) == [
        "missing.md: no such file",
        "there.md#nowhere: no heading with that anchor in there.md",
        "pic.png: no such file",
    ]
