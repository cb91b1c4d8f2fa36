"""The project's documents stay inside the repository and stay true to it: README.md and
every Markdown file under docs/ link only to files (and headings) that exist in the
repository, never to a path outside it (a clone has no `../shared/`)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]

FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
INLINE_LINK = re.compile(r"\]\(\s*<?([^)\s>]*)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)", re.MULTILINE)
HTML_LINK = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']*)["']""")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
LINK_TEXT = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def documents(root: Path = ROOT) -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, code spans removed (a link in code is text)."""
    lines: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        opened = FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)
        elif fence is not None and opened and opened.group(1)[0] == fence[0] \
                and len(opened.group(1)) >= len(fence):
            fence = None
        elif fence is None:
            lines.append(CODE_SPAN.sub("", line))
    return lines


def links(text: str) -> list[str]:
    """Every link target in a Markdown text: inline, reference-style and HTML."""
    prose = "\n".join(_prose_lines(text))
    return [m.group(1) for rx in (INLINE_LINK, REFERENCE_LINK, HTML_LINK)
            for m in rx.finditer(prose)]


def anchors(markdown: Path) -> set[str]:
    """The heading anchors GitHub makes for a Markdown file (lower case, punctuation
    dropped, spaces to hyphens, repeated headings numbered)."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for line in _prose_lines(markdown.read_text(encoding="utf-8")):
        heading = HEADING.match(line)
        if not heading:
            continue
        title = LINK_TEXT.sub(r"\1", heading.group(1)).lower()
        slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def problems(document: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with the links of one document, one sentence each."""
    found: list[str] = []
    text = document.read_text(encoding="utf-8")
    if "../shared" in text:
        found.append("mentions ../shared, which a clone of the repository does not have")
    for target in links(text):
        if not target or SCHEME.match(target):
            continue  # an address on the web (https:, mailto:) is not a file here
        path_part, _, anchor = target.partition("#")
        if path_part:
            base = root if path_part.startswith("/") else document.parent
            path = (base / unquote(path_part).lstrip("/")).resolve()
        else:
            path = document
        if not path.is_relative_to(root):
            found.append(f"{target}: outside the repository")
            continue
        if not path.exists():
            found.append(f"{target}: no such file in the repository")
            continue
        if anchor and path.suffix == ".md" and anchor.lower() not in anchors(path):
            found.append(f"{target}: {path.name} has no heading #{anchor}")
    return found


@pytest.mark.parametrize("document", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_links_stay_in_the_repository_and_point_at_files(document: Path) -> None:
    assert problems(document) == []


def test_the_documents_and_their_links_were_found() -> None:
    """The check above would pass on nothing: the README links into docs/, and docs/ has
    its index and the pages it lists."""
    names = {p.relative_to(ROOT).as_posix() for p in documents()}
    assert {"README.md", "docs/README.md", "docs/domain.md", "docs/architecture.md",
            "docs/adding-a-door.md"} <= names
    readme_links = links((ROOT / "README.md").read_text(encoding="utf-8"))
    assert "docs/README.md" in readme_links
    assert "docs/domain.md" in readme_links


def test_the_check_catches_bad_links(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.md").write_text("# Title\n\n## Two words\n", encoding="utf-8")
    (root / "README.md").write_text(
        "See [the words](../shared/DOMAIN.md), [gone](docs/gone.md),\n"
        "[ok](docs/a.md#two-words), [bad anchor](docs/a.md#three), [web](https://x.test/)\n"
        "and [`up`](../../etc/passwd).\n\n"
        "```sh\n[not a link](nowhere.md)\n```\n"
        "`[in code](nowhere-either.md)`\n\n"
        '[ref]: docs/missing.md\n<a href="docs/none.html">x</a>\n',
        encoding="utf-8")
    assert problems(root / "README.md", root) == [
        "mentions ../shared, which a clone of the repository does not have",
        "../shared/DOMAIN.md: outside the repository",
        "docs/gone.md: no such file in the repository",
        "docs/a.md#three: a.md has no heading #three",
        "../../etc/passwd: outside the repository",
        "docs/missing.md: no such file in the repository",
        "docs/none.html: no such file in the repository",
    ]


def test_heading_anchors_follow_github() -> None:
    page = ROOT / "docs" / "domain.md"
    assert {"the-status-workflow", "the-feedback-promise"} <= anchors(page)
