"""A module's lesson: ``reference/lessons/NN_slug.md``, the one source of its teaching text.

The release weaves it into the module file (``coursetools.release.skeleton.write_notebooks``); the site,
the nbgrader export and the guides read it too. The format:

- one ``# Module NN · Title`` line first, then H2 sections; each H2 becomes a markdown cell;
- an anchor line right under an H2, ``<!-- before: Name -->`` (a top-level class or function of the
  module file: the section goes just before that definition's code cell) or ``<!-- place: end -->``;
  an unanchored section follows the previous one; anchors follow the file's order;
- required sections: ``Learning objectives`` (first), ``Systems point: ...`` (with the one
  ```` ```python systems ```` block, the lesson's measured systems point), ``Reflection questions``
  and ``What this unlocks`` (all three placed at the end);
- ``<!-- instructor -->`` ... ``<!-- /instructor -->`` blocks hold model answers and rubrics; they are
  removed from everything students get (``strip_instructor``);
- every solution region gets a ``###`` subsection named after it (``### Tensor.__add__``) in a
  section placed before the code cell that holds the region.

``check_lesson`` enforces all of it with errors naming the file and line; run it on its own with
``python -m coursetools.author.lessons [NN ...]``.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

END = "end"
"""The anchor of sections placed after the last code cell."""
LESSONS = Path("reference") / "lessons"
INSTRUCTOR_OPEN = "<!-- instructor -->"
INSTRUCTOR_CLOSE = "<!-- /instructor -->"
ANCHOR = re.compile(r"^<!--\s*(?:before:\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)|place:\s*(?P<place>end))\s*-->\s*$")
ANCHOR_LIKE = re.compile(r"^<!--\s*(before|place)\b")
FENCE = re.compile(r"^(```|~~~)")
SYSTEMS_FENCE = re.compile(r"^```python\s+systems\s*$")
HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.S)
WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’-]*")
QUESTION = re.compile(r"^\d+\.\s+\S")
BULLET = re.compile(r"^[-*]\s+\S")

MIN_WORDS = 800
"""Prose words a lesson needs at least (outside code and instructor blocks); the format asks ~900."""
MIN_SECTIONS = 6
OBJECTIVES = "Learning objectives"
SYSTEMS = "Systems point"
REFLECTION = "Reflection questions"
UNLOCKS = "What this unlocks"


class LessonError(ValueError):
    """A lesson file breaks the format; the message lists each problem as ``path:line: what; fix``."""


@dataclass(frozen=True)
class Section:
    """One H2 section of a lesson: the unit that becomes a markdown cell."""

    title: str
    line: int
    """1-based line of the ``## `` heading."""
    anchor: str | None
    """A top-level name of the module file, ``END``, or None (follows the previous section)."""
    body: tuple[str, ...]
    """The lines under the heading, anchor line excluded, instructor blocks included."""
    subsections: tuple[tuple[str, int], ...]
    """(title, line) of each ``### `` heading in the section."""

    @property
    def is_systems(self) -> bool:
        return self.title.startswith(SYSTEMS)

    def markdown(self, *, instructor: bool) -> str:
        """The cell text: heading and body, with the instructor blocks only when asked."""
        text = "\n".join([f"## {self.title}", *self.body])
        return (text if instructor else strip_instructor(text)).strip()


@dataclass(frozen=True)
class Lesson:
    """A parsed lesson file."""

    path: Path
    title: str
    preamble: tuple[str, ...]
    """Lines between the H1 and the first H2 (an introduction; may be empty)."""
    sections: tuple[Section, ...]
    systems_code: str
    """The ``python systems`` block's code ('' when the lesson has none; check_lesson reports that)."""
    systems_line: int
    text: str

    def section(self, prefix: str) -> Section | None:
        return next((s for s in self.sections if s.title.startswith(prefix)), None)

    def intro_markdown(self) -> str:
        return "\n".join([f"# {self.title}", *self.preamble]).strip()

    def instructor_text(self) -> list[str]:
        """The text of every instructor block (what must never reach a student)."""
        return instructor_blocks(self.text)


def lesson_path(root: Path, module) -> Path:
    """``reference/lessons/NN_slug.md`` of a manifest module."""
    return root / LESSONS / f"{module.dirname}.md"


def load_lesson(root: Path, module) -> Lesson | None:
    """The module's parsed lesson, or None when its file does not exist yet."""
    path = lesson_path(root, module)
    if not path.is_file():
        return None
    return parse_lesson(path.read_text(encoding="utf-8"), path)


# ---------------------------------------------------------------------- parsing
def parse_lesson(text: str, path: Path) -> Lesson:
    """Split a lesson into its H1, preamble and H2 sections; LessonError if the skeleton of it is broken."""
    lines = text.splitlines()
    problems = _block_problems(lines, path)
    if not lines or not lines[0].startswith("# "):
        problems.append(f"{path}:1: the first line must be the title, '# Module NN · Title'")
    headings = [i for i, line in enumerate(lines) if line.startswith("## ") and not _in_fence(lines, i)]
    extra_h1 = [i for i, line in enumerate(lines) if line.startswith("# ") and i and not _in_fence(lines, i)]
    problems += [f"{path}:{i + 1}: a second H1 ('# '); a lesson has exactly one title line" for i in extra_h1]
    if not headings:
        problems.append(f"{path}:1: no '## ' sections; see the lesson format")
    if problems:
        raise LessonError("\n".join(problems))
    sections = [_section(lines, start, end, path) for start, end in zip(headings, [*headings[1:], len(lines)])]
    code, code_line = _systems_block(lines)
    return Lesson(path=path, title=lines[0][2:].strip(), preamble=tuple(lines[1:headings[0]]),
                  sections=tuple(sections), systems_code=code, systems_line=code_line, text=text)


def _section(lines: list[str], start: int, end: int, path: Path) -> Section:
    body = lines[start + 1:end]
    anchor, skip = None, None
    first = next((i for i, line in enumerate(body) if line.strip()), None)
    if first is not None and ANCHOR.match(body[first].strip()):
        found = ANCHOR.match(body[first].strip())
        anchor, skip = (END if found["place"] else found["name"]), first
    kept = tuple(line for i, line in enumerate(body) if i != skip)
    subsections = tuple((line[4:].strip(), start + 2 + i) for i, line in enumerate(body)
                        if line.startswith("### ") and not _in_fence(lines, start + 1 + i))
    return Section(title=lines[start][3:].strip(), line=start + 1, anchor=anchor, body=kept, subsections=subsections)


def _block_problems(lines: list[str], path: Path) -> list[str]:
    """Unclosed code fences and unbalanced or nested instructor blocks."""
    problems, fence, instructor = [], None, None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if FENCE.match(stripped):
            fence = None if fence else number
            continue
        if fence:
            continue
        if stripped == INSTRUCTOR_OPEN:
            if instructor:
                problems.append(f"{path}:{number}: instructor block opened inside the one opened on line {instructor}; "
                                f"close it first with '{INSTRUCTOR_CLOSE}'")
            instructor = number
        elif stripped == INSTRUCTOR_CLOSE:
            if not instructor:
                problems.append(f"{path}:{number}: '{INSTRUCTOR_CLOSE}' without an opening '{INSTRUCTOR_OPEN}'")
            instructor = None
        elif "<!-- instructor" in stripped or "<!-- /instructor" in stripped:
            problems.append(f"{path}:{number}: instructor markers go on lines of their own, exactly "
                            f"'{INSTRUCTOR_OPEN}' and '{INSTRUCTOR_CLOSE}'")
        elif instructor and line.startswith("## "):
            problems.append(f"{path}:{number}: a section heading inside the instructor block opened on line "
                            f"{instructor}; close the block before the heading")
    if fence:
        problems.append(f"{path}:{fence}: code fence never closed")
    if instructor:
        problems.append(f"{path}:{instructor}: instructor block never closed; add '{INSTRUCTOR_CLOSE}'")
    return problems


def _in_fence(lines: list[str], index: int) -> bool:
    return sum(1 for line in lines[:index] if FENCE.match(line.strip())) % 2 == 1


def _systems_block(lines: list[str]) -> tuple[str, int]:
    for i, line in enumerate(lines):
        if SYSTEMS_FENCE.match(line.strip()) and not _in_fence(lines, i):
            end = next(j for j in range(i + 1, len(lines)) if FENCE.match(lines[j].strip()))
            return "\n".join(lines[i + 1:end]) + "\n", i + 1
    return "", 0


def strip_instructor(text: str) -> str:
    """The text without its instructor blocks (markers included)."""
    kept, inside = [], False
    for line in text.splitlines(keepends=True):
        if line.strip() == INSTRUCTOR_OPEN:
            inside = True
        elif line.strip() == INSTRUCTOR_CLOSE:
            inside = False
        elif not inside:
            kept.append(line)
    return "".join(kept)


def instructor_blocks(text: str) -> list[str]:
    """The contents of each instructor block, in order."""
    blocks, current = [], None
    for line in text.splitlines():
        if line.strip() == INSTRUCTOR_OPEN:
            current = []
        elif line.strip() == INSTRUCTOR_CLOSE and current is not None:
            blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def prose_words(markdown: str) -> int:
    """Words of prose: outside code fences, instructor blocks, HTML comments and math."""
    lines, fence = [], False
    for line in strip_instructor(markdown).splitlines():
        if FENCE.match(line.strip()):
            fence = not fence
        elif not fence:
            lines.append(line)
    text = MATH.sub(" ", HTML_COMMENT.sub(" ", "\n".join(lines)))
    return len(WORD.findall(text))


def split_systems(section: Section, *, instructor: bool) -> tuple[str, str, str]:
    """The systems section as (markdown before the block, the block's code, markdown after it)."""
    text = section.markdown(instructor=instructor)
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if SYSTEMS_FENCE.match(line.strip()))
    end = next(j for j in range(start + 1, len(lines)) if FENCE.match(lines[j].strip()))
    before = "\n".join(lines[:start]).strip()
    after = "\n".join(lines[end + 1:]).strip()
    return before, "\n".join(lines[start + 1:end]), after


# ---------------------------------------------------------------------- checking
def top_level_names(source: str) -> list[str]:
    """Names of the module file's top-level classes and functions, in file order."""
    return [node.name for node in ast.parse(source).body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def region_owner(source: str, line: int) -> str | None:
    """The top-level class or function whose lines contain ``line`` (1-based)."""
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.lineno <= line <= node.end_lineno:
            return node.name
    return None


def slots(lesson: Lesson, names: list[str]) -> list[int]:
    """For each section, the index of the code cell it goes before (len(names) + 1 means after the last).

    Cell 0 is the file's preamble (docstring, imports); cell i + 1 holds ``names[i]``.
    """
    result, current = [], 0
    for section in lesson.sections:
        if section.anchor == END:
            current = len(names) + 1
        elif section.anchor is not None and section.anchor in names:
            current = names.index(section.anchor) + 1
        result.append(current)
    return result


def check_lesson(lesson: Lesson, number: str, source: str, regions) -> None:
    """Raise LessonError listing every way the lesson breaks the format for this module file.

    ``source`` is the module's reference file, ``regions`` its solution regions (markers.Region).
    """
    path, problems = lesson.path, []
    names = top_level_names(source)
    problems += _check_title(lesson, number)
    problems += _check_required(lesson)
    problems += _check_anchors(lesson, names)
    problems += _check_guidance(lesson, names, source, regions)
    problems += _check_objectives(lesson)
    problems += _check_reflection(lesson)
    words = prose_words(lesson.text)
    if words < MIN_WORDS:
        problems.append(f"{path}:1: {words} words of prose (outside code and instructor blocks); "
                        f"a lesson needs at least {MIN_WORDS}")
    if problems:
        raise LessonError("\n".join(problems))


def _check_title(lesson: Lesson, number: str) -> list[str]:
    if not lesson.title.startswith(f"Module {number}"):
        return [f"{lesson.path}:1: the title must start with 'Module {number}' ('# Module {number} · Title'), "
                f"found {lesson.title!r}"]
    return []


def _check_required(lesson: Lesson) -> list[str]:
    path, problems = lesson.path, []
    if len(lesson.sections) < MIN_SECTIONS:
        problems.append(f"{path}:1: {len(lesson.sections)} '## ' sections; a lesson has at least {MIN_SECTIONS}")
    if lesson.sections[0].title != OBJECTIVES:
        problems.append(f"{path}:{lesson.sections[0].line}: the first section must be '## {OBJECTIVES}'")
    for title in (SYSTEMS, REFLECTION, UNLOCKS):
        found = [s for s in lesson.sections if s.title.startswith(title)]
        if len(found) != 1:
            problems.append(f"{path}:1: {len(found)} sections titled '## {title}...'; exactly one is required")
        elif found[0].anchor != END:
            problems.append(f"{path}:{found[0].line}: '## {found[0].title}' needs '<!-- place: end -->' on the next line")
    systems = lesson.section(SYSTEMS)
    fences = [i + 1 for i, line in enumerate(lesson.text.splitlines()) if SYSTEMS_FENCE.match(line.strip())]
    if len(fences) != 1:
        problems.append(f"{path}:{fences[1] if len(fences) > 1 else 1}: {len(fences)} '```python systems' blocks; "
                        "exactly one, in the systems point section")
    elif systems and not any(SYSTEMS_FENCE.match(line.strip()) for line in systems.body):
        problems.append(f"{path}:{fences[0]}: the '```python systems' block must be inside '## {systems.title}'")
    elif systems and _systems_in_instructor(systems):
        problems.append(f"{path}:{fences[0]}: the '```python systems' block is inside an instructor block; "
                        "students must get it")
    return problems


def _systems_in_instructor(section: Section) -> bool:
    return not any(SYSTEMS_FENCE.match(line.strip()) for line in strip_instructor("\n".join(section.body)).splitlines())


def _check_anchors(lesson: Lesson, names: list[str]) -> list[str]:
    path, problems, last, last_name, ended = lesson.path, [], 0, None, None
    for section in lesson.sections:
        stray = [line for line in section.body if ANCHOR_LIKE.match(line.strip()) and not ANCHOR.match(line.strip())]
        if stray:
            problems.append(f"{path}:{section.line}: malformed anchor {stray[0].strip()!r}; write "
                            "'<!-- before: Name -->' or '<!-- place: end -->' on the line under the heading")
        if section.anchor is None or section.anchor == END:
            ended = ended or (section if section.anchor == END else None)
            continue
        if section.anchor not in names:
            problems.append(f"{path}:{section.line + 1}: anchor 'before: {section.anchor}' names no top-level class "
                            f"or function of the module file; top-level names are {', '.join(names)}")
            continue
        if ended:
            problems.append(f"{path}:{section.line + 1}: 'before: {section.anchor}' comes after "
                            f"'## {ended.title}' (line {ended.line}), which is placed at the end")
        index = names.index(section.anchor)
        if index < last:
            problems.append(f"{path}:{section.line + 1}: 'before: {section.anchor}' is out of order: it comes after "
                            f"'before: {last_name}', but {section.anchor} is earlier in the module file")
        last, last_name = max(last, index), section.anchor
    return problems


def _check_guidance(lesson: Lesson, names: list[str], source: str, regions) -> list[str]:
    """Every region has a ``###`` subsection in a section placed before the cell holding it."""
    problems, placed = [], slots(lesson, names)
    headings = [(title, line, slot) for section, slot in zip(lesson.sections, placed)
                for title, line in section.subsections]
    for region in regions:
        owner = region_owner(source, region.start_line)
        cell = names.index(owner) + 1 if owner in names else 0
        found = [(title, line, slot) for title, line, slot in headings if names_region(title, region.name)]
        if not found:
            problems.append(f"{lesson.path}:1: no '### {region.name}' subsection: every solution region needs its "
                            f"guidance (what to build, the equation, a check by hand) before the code cell of {owner or 'the preamble'}")
        elif all(slot > cell for _, _, slot in found):
            title, line, _ = found[0]
            problems.append(f"{lesson.path}:{line}: '### {title}' is placed after the code cell of {owner}; move it to a "
                            f"section anchored before {owner} (or earlier)")
    return problems


def names_region(title: str, region: str) -> bool:
    """Whether a ``###`` title names the region: ``Tensor.__add__`` or every part of it as a word."""
    plain = title.replace("`", "")
    qualified = region.split("#")[0]
    if qualified in plain:
        return True
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", plain))
    return set(qualified.split(".")) <= words


def _check_objectives(lesson: Lesson) -> list[str]:
    section = lesson.sections[0]
    if section.title != OBJECTIVES:
        return []
    bullets = [line for line in strip_instructor("\n".join(section.body)).splitlines() if BULLET.match(line)]
    if not 4 <= len(bullets) <= 6:
        return [f"{lesson.path}:{section.line}: {len(bullets)} objectives; write 4 to 6 bullets '- ...'"]
    return []


def _check_reflection(lesson: Lesson) -> list[str]:
    """3-5 numbered questions, each followed by its own instructor block."""
    section = lesson.section(REFLECTION)
    if section is None:
        return []
    problems, questions, answered = [], [], []
    inside = False
    for offset, line in enumerate(section.body):
        stripped = line.strip()
        if stripped == INSTRUCTOR_OPEN:
            inside = True
            if questions:
                answered.append(questions[-1])
        elif stripped == INSTRUCTOR_CLOSE:
            inside = False
        elif not inside and QUESTION.match(stripped):
            questions.append(section.line + 1 + offset)
    if not 3 <= len(questions) <= 5:
        problems.append(f"{lesson.path}:{section.line}: {len(questions)} reflection questions; write 3 to 5 ('1. ...')")
    for line in questions:
        if line not in answered:
            problems.append(f"{lesson.path}:{line}: reflection question without its instructor block "
                            f"(model answer and rubric between '{INSTRUCTOR_OPEN}' and '{INSTRUCTOR_CLOSE}')")
    return problems


# ---------------------------------------------------------------------- weaving
def weave(lesson: Lesson, cells: list, *, instructor: bool) -> list:
    """The module file's code cells (``tito.notebook.code_cells``) with the lesson's markdown between them.

    Each section goes before the code cell its anchor names (unanchored: after the previous
    section; ``END``: after the last code cell). The systems block becomes a code cell that runs
    only in the notebook. Instructor blocks stay only when ``instructor`` (solution repositories).
    """
    from coursetools.tito.notebook import NOTEBOOK_ONLY, Cell

    names = [c.names[0] if c.names else None for c in cells]
    before: dict[int, list] = {}
    for section, slot in zip(lesson.sections, slots(lesson, [n for n in names if n])):
        index = len(cells) if slot > len([n for n in names if n]) else _cell_index(names, slot)
        before.setdefault(index, []).extend(_section_cells(section, instructor, Cell, NOTEBOOK_ONLY))
    woven = [Cell("markdown", lesson.intro_markdown())]
    for index, cell in enumerate(cells):
        woven += before.get(index, []) + [cell]
    return woven + before.get(len(cells), [])


def _cell_index(names: list, slot: int) -> int:
    """Slot 0 is the first cell; slot i the cell defining the i-th top-level name."""
    if slot == 0:
        return 0
    defined = [i for i, name in enumerate(names) if name]
    return defined[slot - 1]


def _section_cells(section: Section, instructor: bool, Cell, notebook_only: dict) -> list:
    if not section.is_systems:
        return [Cell("markdown", section.markdown(instructor=instructor))]
    prose, code, after = split_systems(section, instructor=instructor)
    cells = [Cell("markdown", prose), Cell("code", code, metadata=dict(notebook_only))]
    return cells + ([Cell("markdown", after)] if after else [])


def lesson_lines(lesson: Lesson) -> set[str]:
    """Stripped lines of the lesson students get (for telling lesson text from instructor text)."""
    return {line.strip() for line in strip_instructor(lesson.text).splitlines()}


def instructor_secrets(lesson: Lesson) -> set[str]:
    """Distinctive lines of the instructor blocks that appear nowhere else in the lesson."""
    public = lesson_lines(lesson)
    lines = {line.strip() for block in lesson.instructor_text() for line in block.splitlines()}
    return {line for line in lines - public if len(line) >= 24 or len(line.split()) >= 5}


# ---------------------------------------------------------------------- command line
def check_module(course, module) -> Lesson | None:
    """Load and check one module's lesson against its reference file (None: no lesson yet)."""
    from coursetools.author.markers import find_regions

    lesson = load_lesson(course.root, module)
    if lesson is None:
        return None
    relative = module.files[0]
    source = (course.root / "reference" / relative).read_text(encoding="utf-8")
    check_lesson(lesson, module.number, source, find_regions(source, relative))
    return lesson


def main(argv: list[str]) -> int:
    """``python -m coursetools.author.lessons [NN ...]``: check the lessons (all that exist without arguments)."""
    from coursetools.manifest import load_course

    course = load_course()
    modules = [course.module(n) for n in argv] if argv else list(course.modules)
    failed = 0
    for module in modules:
        try:
            lesson = check_module(course, module)
        except LessonError as error:
            failed += 1
            print(error, file=sys.stderr)
            continue
        if lesson is None:
            print(f"module {module.number}: no lesson yet ({lesson_path(course.root, module).relative_to(course.root)})")
        else:
            print(f"module {module.number}: {lesson.path.relative_to(course.root)} ok, "
                  f"{len(lesson.sections)} sections, {prose_words(lesson.text)} words of prose")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
