"""The front door and the docs pages: short, every Python block complete, every link and anchor there.

The README is what a newcomer reads in one sitting (at most 300 lines); the rest lives under ``docs/``, built by
``mkdocs build --strict`` in CI (which also checks the links between docs pages). Here, without mkdocs: every
```python block of README.md and docs/*.md compiles and uses no name it does not define or import (no
placeholders such as ``predicted_y``), every relative link of the README reaches a file (and a heading of it),
CI runs the README's test command, and the layout page names every module of the package.
"""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

import pytest
from _support import REPO_ROOT

README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
MAX_README_LINES = 300
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def _blocks(language: str) -> list[tuple[str, str]]:
    """``(id, code)`` of every fenced block in ``language`` of README.md and docs/*.md, ids like ``README.md#2``."""
    found = []
    for page in PAGES:
        blocks = [m.group(2) for m in _FENCE.finditer(page.read_text()) if m.group(1) == language]
        found += [(f"{page.relative_to(REPO_ROOT)}#{i}", code) for i, code in enumerate(blocks)]
    return found


PYTHON_BLOCKS = _blocks("python")


def _bound_and_loaded(tree: ast.AST) -> tuple[set[str], set[str]]:
    """Names a block binds anywhere (assignments, imports, defs, arguments, loop and ``with`` targets) and loads."""
    bound: set[str] = set()
    loaded: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound, loaded


def _slug(heading: str) -> str:
    """The anchor mkdocs (and, for these headings, GitHub) gives a heading: punctuation dropped, words hyphenated."""
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", heading).strip().lower())


def _anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text())  # a "# comment" in a code block is no heading
    return {_slug(h) for h in _HEADING.findall(text)}


def test_readme_is_at_most_300_lines() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; move reference material into docs/"


def test_ci_runs_the_readme_test_command() -> None:
    first = _FENCE.search(README.read_text())
    assert first is not None and first.group(1) == "bash", "README.md must open with the set-up commands (```bash)"
    commands = [line for line in first.group(2).splitlines() if line and not line.startswith("#")]
    test_command = next(c for c in commands if "pytest" in c)
    assert test_command in (REPO_ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_keeps_the_generated_leaderboard_block() -> None:
    from ldmnist_hub.benchmark.run import README_END, README_START

    text = README.read_text()
    assert text.count(README_START) == 1 and text.count(README_END) == 1
    assert text.index(README_START) < text.index(README_END)


def test_there_are_python_blocks_to_check() -> None:
    assert len(PYTHON_BLOCKS) >= 10


@pytest.mark.parametrize(("block", "code"), PYTHON_BLOCKS, ids=[b for b, _ in PYTHON_BLOCKS])
def test_python_block_compiles(block: str, code: str) -> None:
    compile(code, block, "exec")


@pytest.mark.parametrize(("block", "code"), PYTHON_BLOCKS, ids=[b for b, _ in PYTHON_BLOCKS])
def test_python_block_uses_no_undefined_name(block: str, code: str) -> None:
    bound, loaded = _bound_and_loaded(ast.parse(code))
    undefined = sorted(loaded - bound - set(dir(builtins)))
    assert not undefined, f"{block} uses {undefined} without defining or importing them"


def _links(page: Path) -> list[str]:
    """The targets of a page's markdown links and images, outside code blocks and code spans."""
    text = re.sub(r"`[^`\n]*`", "", _FENCE.sub("", page.read_text()))
    return sorted({m.group(1) for m in _LINK.finditer(text)})


@pytest.mark.parametrize("link", _links(README))
def test_readme_relative_link_reaches_a_file_and_heading(link: str) -> None:
    if re.match(r"[a-z][a-z0-9+.-]*:", link):  # https:, mailto:
        return
    path, _, anchor = link.partition("#")
    target = (REPO_ROOT / path).resolve() if path else README
    assert target.exists(), f"README.md links to {link}, but {path} does not exist"
    if anchor:
        assert target.suffix == ".md", f"README.md links to an anchor of a non-markdown file: {link}"
        assert anchor in _anchors(target), f"README.md links to {link}, but {path or 'README.md'} has no such heading"


def _layout_tree() -> set[str]:
    """The files the tree of docs/layout.md names, as paths under ``ldmnist_hub/`` (``core/config.py``)."""
    text = (DOCS / "layout.md").read_text()
    tree = next(code for _, code in ((m.group(1), m.group(2)) for m in _FENCE.finditer(text))
                if code.startswith("ldmnist_hub/"))
    names: set[str] = set()
    folders: list[tuple[int, str]] = []  # (indent, name) of the folders the current line is inside
    for line in tree.splitlines()[1:]:
        indent, name = len(line) - len(line.lstrip()), line.split()[0]
        while folders and folders[-1][0] >= indent:
            folders.pop()
        path = "/".join([f for _, f in folders] + [name.rstrip("/")])
        if name.endswith("/"):
            folders.append((indent, name.rstrip("/")))
        else:
            names.add(path)
    return names


def test_layout_page_names_every_module_and_no_other() -> None:
    package = REPO_ROOT / "ldmnist_hub"
    modules = {str(p.relative_to(package)) for p in package.rglob("*.py") if p.name != "__init__.py"}
    listed = {name for name in _layout_tree() if name.endswith(".py") and not name.endswith("__init__.py")}
    assert not modules - listed, f"docs/layout.md does not name {sorted(modules - listed)}; add them to its tree"
    assert not listed - modules, f"docs/layout.md names {sorted(listed - modules)}, which do not exist"


@pytest.mark.parametrize(("heading", "anchor"), [
    ("Versions and how to cite one", "versions-and-how-to-cite-one"),
    ("`load_dataset` arguments", "load_dataset-arguments"),
    ("Selection keywords: one meaning per name", "selection-keywords-one-meaning-per-name"),
    ("Error bars, subsets and posterior draws", "error-bars-subsets-and-posterior-draws"),
])
def test_slug_is_the_anchor_github_and_mkdocs_give(heading: str, anchor: str) -> None:
    assert _slug(heading) == anchor
