"""The site's course pages as Markdown: the home page (module map, semester plan) and one page per module.

Everything comes from the manifest (modules, groups, points, visibility, timeouts), the semester
plan and the lessons; nothing here repeats a number that those files hold.
"""

from __future__ import annotations

import re

from coursetools.author.lessons import ANCHOR, strip_instructor
from coursetools.manifest import Course, Group, Module
from coursetools.site.plan import Plan

WHEN_SHOWN = {"visible": "at once", "after_due_date": "after the due date",
              "after_published": "when grades are published", "hidden": "never (instructors only)"}
SYSTEMS_FENCE = re.compile(r"^```python\s+systems\s*$", re.M)
PLAN_START, PLAN_END = "<!-- semester-plan:start -->", "<!-- semester-plan:end -->"


def module_page_path(module: Module) -> str:
    return f"modules/{module.dirname}.md"


def milestone_page_path(folder: str) -> str:
    return f"milestones/{folder}.md"


def lesson_page_source(module: Module) -> str:
    return f"reference/lessons/{module.dirname}.md"


def points(value: float) -> str:
    return f"{value:g}"


def visible_points(module: Module) -> float:
    return sum(g.points for g in module.groups if not g.hidden)


# ---------------------------------------------------------------- home
def home_page(course: Course, plan: Plan, has_lesson: dict[str, bool]) -> str:
    lines = [f"# {course.name}: build your own machine-learning framework", "",
             f"{course.term}. Twenty modules take you from a NumPy array with a gradient to a GPT, then to the "
             "systems work that makes models small and fast: profiling, quantization, pruning, caching and "
             "benchmarking. Each module is graded by the same autograder students can run themselves; six "
             "milestones retrain famous models of ML history on real data with the code you wrote.", "",
             "## Module map", ""]
    for part in plan.parts:
        lines += [f"### {part.title}", "", part.summary, "", '<div class="grid cards" markdown>', ""]
        for number in part.modules:
            lines += module_card(course, plan, course.module(number), has_lesson[number])
        lines += ["</div>", ""]
    lines += ["## Semester plan", "",
              f"{len(plan.weeks)} weeks; a milestone opens in the week its last module is taught.", "",
              plan_table(course, plan, link=True), "",
              "## Also on this site", "",
              "- [Milestones](milestones/index.md): the measured results and curves of every historical milestone.",
              "- [TinyMLPerf leaderboard](leaderboard.md): the benchmark submissions, ranked per event.",
              "- [Instructor guide](guides/instructor.md) and [TA guide](guides/ta.md).", ""]
    return "\n".join(lines)


def module_card(course: Course, plan: Plan, module: Module, has_lesson: bool) -> list[str]:
    unlocks = plan.unlocked_by(module.number)
    facts = [f"week {plan.week_of(module.number)}", f"{points(module.max_points)} points",
             "lesson" if has_lesson else "lesson to come"]
    if not module.released:
        facts.append("planned")
    body = [" · ".join(facts)]
    if module.depends:
        body.append("builds on " + ", ".join(module.depends))
    if unlocks:
        body.append("unlocks " + ", ".join(f"[milestone {m.number}]({milestone_page_path(m.folder)})" for m in unlocks))
    return [f"-   **[{module.number} · {module.title}]({module_page_path(module)})**", "", "    ---", "",
            *[f"    {line}  " for line in body], ""]


def plan_table(course: Course, plan: Plan, *, link: bool) -> str:
    """The weeks as a Markdown table; with ``link``, modules and milestones link to their pages
    (paths relative to the site root)."""
    rows = ["| week | modules | milestone opens | note |", "|---:|---|---|---|"]
    for week in plan.weeks:
        modules = ", ".join(_module_name(course.module(n), link) for n in week.modules) or "–"
        milestones = ", ".join(f"[{f}]({milestone_page_path(f)})" if link else f"`{f}`" for f in week.milestones)
        rows.append(f"| {week.number} | {modules} | {milestones or '–'} | {week.note or ''} |")
    return "\n".join(rows)


def _module_name(module: Module, link: bool) -> str:
    name = f"{module.number} {module.title}"
    return f"[{name}]({module_page_path(module)})" if link else name


def with_plan(guide: str, table: str) -> str:
    """The guide's text with the block between the plan markers replaced by ``table``."""
    start, end = guide.index(PLAN_START) + len(PLAN_START), guide.index(PLAN_END)
    return guide[:start] + "\n" + table + "\n" + guide[end:]


def plan_block(guide: str) -> str:
    """The table between the plan markers of a guide."""
    return guide[guide.index(PLAN_START) + len(PLAN_START):guide.index(PLAN_END)].strip()


# ---------------------------------------------------------------- module pages
def student_lesson(text: str) -> str:
    """A lesson as students get it: no instructor blocks, no placement anchors, and the systems
    block titled (it is the one block meant to be run)."""
    kept = [line for line in strip_instructor(text).splitlines() if not ANCHOR.match(line.strip())]
    body = "\n".join(kept)
    return SYSTEMS_FENCE.sub('```python title="Systems point: run it, read the figures it prints"', body)


def module_page(course: Course, plan: Plan, module: Module, lesson: str | None) -> str:
    """The lesson (or a note that it is still to come) with the module's facts and how it is graded."""
    if lesson is None:
        head = [f"# Module {module.number} · {module.title}", "",
                '!!! note "Lesson to come"', f"    The lesson text of this module (`{lesson_page_source(module)}`) "
                "is not written yet. What you build and how it is graded are below.", ""]
        body: list[str] = []
    else:
        title, _, rest = student_lesson(lesson).partition("\n")
        head, body = [title, ""], [rest.strip(), ""]
    return "\n".join(head + module_facts(course, plan, module) + body + grading_section(module)) + "\n"


def module_facts(course: Course, plan: Plan, module: Module) -> list[str]:
    files = ", ".join(f"`{f}`" for f in module.files)
    depends = ", ".join(f"[{d} {course.module(d).title}]({course.module(d).dirname}.md)" for d in module.depends) or "none"
    unlocks = plan.unlocked_by(module.number)
    lines = ['!!! info "This module"',
             f"    **Week {plan.week_of(module.number)}** of the semester plan · {plan.part_of(module.number).title} · "
             f"status: {module.status}  ",
             f"    You write: {files} (package `{module.package}`)  ",
             f"    Builds on: {depends}  ",
             f"    Graded out of **{points(module.max_points)} points**, {points(visible_points(module))} of them "
             "visible at once ([details](#how-it-is-graded))  "]
    if unlocks:
        lines.append("    Unlocks: " + ", ".join(f"[milestone {m.number} ({m.year})](../{milestone_page_path(m.folder)})"
                                                 for m in unlocks) + "  ")
    lines.append(f"    Common mistakes and their symptoms: [TA guide](../guides/ta.md#module-{module.number}-"
                 f"{_slug(module.title)})" if module.released else "    Not released yet: no grader bundle.")
    return lines + [""]


def _slug(title: str) -> str:
    return re.sub(r"[\s-]+", "-", re.sub(r"[^\w\s-]", "", title.lower())).strip("-")


def grading_section(module: Module) -> list[str]:
    if not module.groups:
        return ["## How it is graded", "", "No test groups are declared for this module yet.", ""]
    lines = ["## How it is graded", "",
             f"One autograder run grades the module in at most {points(module.budget)} s. Each group is one test "
             "file; its points are split evenly over its tests. Hidden groups run on Gradescope only, and their "
             "results appear when the table says.", "",
             "| group | what it checks | points | students see it | per-test limit |",
             "|---|---|---:|---|---|"]
    lines += [group_row(group) for group in module.groups]
    hidden = module.max_points - visible_points(module)
    lines += [f"| **total** | | **{points(module.max_points)}** | {points(visible_points(module))} visible, "
              f"{points(hidden)} hidden | |", ""]
    return lines


def group_row(group: Group) -> str:
    limit = f"{points(group.timeout)} s"
    if group.max_ratio is not None:
        limit += f"; at most {group.max_ratio:g}× the reference's time"
    if group.leaderboard:
        limit += "; leaderboard: " + ", ".join(f"`{c}`" for c in group.leaderboard)
    return f"| `{group.name}` | {group.title} | {points(group.points)} | {WHEN_SHOWN[group.visibility]} | {limit} |"
