"""The catalogue of realistic student mistakes: small patches against a module's reference.

``validation/NN_slug/mistakes/<name>.patch`` is a unified diff against ``reference/<file>``
(paths ``a/tinytorch/...`` and ``b/tinytorch/...``). The text before the first ``---`` line is
the mistake's description, written for course authors: what the student did and why it is
wrong. A mistake may only change code inside solution regions (students write nothing else).
Patches are applied with ``git apply``, which refuses a patch whose context no longer matches.
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

from coursetools.author.markers import find_regions
from coursetools.manifest import Course, Module

MIN_MISTAKES = 5
"""A released module's catalogue holds at least this many mistakes."""


class CatalogueError(ValueError):
    """A catalogued mistake cannot be used; the message names the patch and the fix."""


@dataclass(frozen=True)
class Mistake:
    name: str
    """The patch's file name without .patch."""
    description: str
    patch: Path


def catalogue_dir(course: Course, module: Module) -> Path:
    return course.root / "validation" / module.dirname / "mistakes"


def load_catalogue(course: Course, module: Module) -> list[Mistake]:
    """Every mistake of the module, sorted by name."""
    folder = catalogue_dir(course, module)
    mistakes = []
    for patch in sorted(folder.glob("*.patch")) if folder.is_dir() else []:
        text = patch.read_text(encoding="utf-8")
        head = text.split("\n--- ", 1)[0] if not text.startswith("--- ") else ""
        description = " ".join(line.strip() for line in head.splitlines() if line.strip())
        if not description:
            raise CatalogueError(f"{patch}: no description; write what the student did above the '---' line")
        mistakes.append(Mistake(patch.stem, description, patch))
    return mistakes


def apply_mistake(course: Course, module: Module, mistake: Mistake) -> dict[str, str]:
    """The module's reference files with the mistake applied: {relative path: text}.

    Raises CatalogueError when the patch does not apply or changes code outside the regions.
    """
    with tempfile.TemporaryDirectory(prefix="tt-mistake-") as scratch:
        root = Path(scratch)
        for relative in module.files:
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(course.root / "reference" / relative, target)
        done = subprocess.run(["git", "apply", "--whitespace=nowarn", str(mistake.patch.resolve())],
                              cwd=root, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise CatalogueError(f"{mistake.patch}: does not apply to the reference ({done.stderr.strip()}); "
                                 "regenerate it against the current reference/ file")
        texts = {relative: (root / relative).read_text(encoding="utf-8") for relative in module.files}
    for relative, text in texts.items():
        original = (course.root / "reference" / relative).read_text(encoding="utf-8")
        outside = changed_lines_outside_regions(original, text, relative)
        if outside:
            raise CatalogueError(f"{mistake.patch}: changes line(s) {outside} of {relative}, outside every solution "
                                 "region; a student mistake can only be in code the student writes")
    if all(texts[r] == (course.root / "reference" / r).read_text(encoding="utf-8") for r in texts):
        raise CatalogueError(f"{mistake.patch}: changes nothing")
    return texts


def changed_lines_outside_regions(original: str, changed: str, path: str) -> list[int]:
    """1-based lines of the original that the change touches and that are not region code."""
    regions = find_regions(original, path)

    def inside(line: int) -> bool:
        return any(r.start_line < line < r.end_line for r in regions)

    matcher = difflib.SequenceMatcher(a=original.splitlines(), b=changed.splitlines(), autojunk=False)
    outside = []
    for tag, first, last, _, _ in matcher.get_opcodes():
        if tag == "equal":
            continue
        touched = range(first + 1, last + 1) if last > first else [first + 1]  # an insertion sits before first+1
        outside += [line for line in touched if not inside(line) and not (last == first and inside(line - 1))]
    return outside


def make_patch(original: str, changed: str, path: str, description: str) -> str:
    """A catalogue entry: the description, wrapped at 100 columns, then the unified diff."""
    diff = "".join(difflib.unified_diff(original.splitlines(keepends=True), changed.splitlines(keepends=True),
                                        fromfile=f"a/{path}", tofile=f"b/{path}"))
    if not diff:
        raise CatalogueError(f"the mistake '{description[:40]}...' changes nothing in {path}")
    return textwrap.fill(description, width=100) + "\n\n" + diff


def write_mistake(course: Course, module: Module, name: str, description: str, old: str, new: str,
                  path: str | None = None) -> Path:
    """Add a mistake to the catalogue by replacing OLD (found exactly once) with NEW in the reference."""
    relative = path or module.files[0]
    original = (course.root / "reference" / relative).read_text(encoding="utf-8")
    if original.count(old) != 1:
        raise CatalogueError(f"{relative}: the text to replace occurs {original.count(old)} times; it must occur once")
    target = catalogue_dir(course, module) / f"{name}.patch"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(make_patch(original, original.replace(old, new), relative, description), encoding="utf-8")
    return target
