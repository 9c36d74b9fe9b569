"""The TA guide (docs/guides/ta.md): every catalogued mistake, the symptom a student sees, the hint to give.

Sources, all committed:

- ``validation/NN_slug/mistakes/*.patch``: what the student did (the description) and the diff.
  A paragraph of the description that starts with ``Hint:`` is the hint a TA gives; without one
  the guide points at the solution region the diff touches.
- ``validation/reports/NN_slug.symptoms.json``: what one real grader run of each mistake showed,
  test by test: its group, when students see it, the points it lost and the headline of the
  feedback the grader wrote. ``python -m coursetools ta-guide --grade NN`` writes it (slow: one
  full grading run per mistake, through every visible and hidden group).
- ``validation/reports/NN_slug.json`` (``make validate``): the tests that caught each mistake;
  the guide falls back to them for a mistake with no recorded symptoms, and ``check`` reports
  recorded symptoms whose failing tests no longer match it (tests changed: grade again).

``python -m coursetools ta-guide`` regenerates the guide from these files in about a second, so
``make test`` can check that the committed guide is current.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import multiprocessing
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from coursetools.author.markers import Region, find_regions
from coursetools.manifest import Course, Module, load_course
from coursetools.validate.mistakes import CatalogueError, Mistake, apply_mistake, load_catalogue

GUIDE = Path("docs") / "guides" / "ta.md"
"""Where the guide is written, relative to the repository root."""
MESSAGE_CHARS = 360
"""Longest feedback headline kept per failing test."""
HINT = re.compile(r"(?:^|\s)Hint:\s*")
WHEN_SEEN = {"visible": "visible at once", "after_due_date": "after the due date",
             "after_published": "when grades are published", "hidden": "instructors only"}
GRADE_COMMAND = "python -m coursetools ta-guide --grade {number}"


# ---------------------------------------------------------------- recorded symptoms
@dataclass(frozen=True)
class FailedTest:
    """One test a mistake fails, as the grader reported it."""

    name: str
    """"<group title> › <test>", as students see it."""
    visibility: str
    points_lost: float
    message: str
    """The feedback's headline ("**Failed**: ..." without the markup), trimmed."""
    detail: str = ""
    """pytest's explanation lines (``E ...``) of the traceback, when they say more than the headline."""
    checks: str = ""
    """The test's docstring, which the feedback shows as "What this test checks"."""


def symptoms_path(course: Course, module: Module) -> Path:
    return course.root / "validation" / "reports" / f"{module.dirname}.symptoms.json"


def patch_digest(mistake: Mistake) -> str:
    return hashlib.sha256(mistake.patch.read_bytes()).hexdigest()[:16]


def headline(output: str) -> str:
    """The first paragraph of a test's Markdown feedback, without its bold label, on one line."""
    first = output.strip().split("\n\n", 1)[0]
    first = re.sub(r"^\*\*(Failed|Not run|Not graded)\*\*:\s*", "", first)
    first = re.sub(r"/tmp/tinytorch-[\w.-]+/(tree/)?", "", " ".join(first.split()))
    return first if len(first) <= MESSAGE_CHARS else first[: MESSAGE_CHARS - 1].rstrip() + "…"


def explanation(output: str) -> str:
    """pytest's ``E`` lines from the traceback in a test's feedback (at most four), on one line."""
    lines = [line[1:].strip() for line in output.splitlines() if line.startswith("E ")]
    kept = [line for line in lines if line and not line.startswith("+") and " at 0x" not in line
            and not line.startswith("Use -v")]
    text = " ".join(kept[:4])
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1].rstrip() + "…"


def test_doc(output: str) -> str:
    found = re.search(r"\*\*What this test checks\*\*:\s*(.+)", output, re.S)
    return " ".join(found.group(1).split()) if found else ""


def _grade_one(source: str, config: dict, submitted: dict[str, str]) -> dict:
    """Grade one variant in full (every group) in this worker process; the failing tests."""
    from tinytorch_grader.run import grade

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tt-symptom-") as scratch:
        for relative, text in submitted.items():
            target = Path(scratch) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        result, _ = grade(config, Path(source), Path(scratch))
    failed = [{"name": t.name, "visibility": t.visibility, "points_lost": round(t.max_score - t.score, 4),
               "message": headline(t.output), "detail": explanation(t.output), "checks": test_doc(t.output)}
              for t in result.tests if not t.passed]
    score = sum(t.score for t in result.tests)
    maximum = sum(t.max_score for t in result.tests)
    return {"points_lost": round(maximum - score, 4), "max_score": round(maximum, 4), "failed": failed,
            "seconds": round(time.monotonic() - started, 1)}


CALIBRATION_TRIES = 3
"""Times the unchanged reference is graded before giving up: a timed group can lose points on a busy machine."""


def calibrate(bench) -> None:
    """The unchanged reference must score full marks, or every symptom would be wrong."""
    for attempt in range(1, CALIBRATION_TRIES + 1):
        try:
            bench.calibrate()
            return
        except RuntimeError as error:
            if attempt == CALIBRATION_TRIES:
                raise
            print(f"  {bench.module.number}: {error}; grading the reference again", file=sys.stderr, flush=True)


def grade_symptoms(course: Course, module: Module, *, workers: int = 1, only: list[str] | None = None,
                   path: Path | None = None) -> Path:
    """Grade every catalogued mistake of the module once, in full; write NN_slug.symptoms.json.

    The bundle is built in a private folder and the unchanged reference graded first (it must
    score full marks); ``workers`` mistakes are graded at once, each in its
    own process (the grader runtime forks, reaps and kills by uid). ``only`` grades just the named
    mistakes; ``path`` writes somewhere else than validation/reports/.
    """
    from coursetools.validate.variant_grading import GradingBench

    mistakes, variants = [], []
    for mistake in load_catalogue(course, module):
        if only is not None and mistake.name not in only:
            continue
        try:
            variants.append(apply_mistake(course, module, mistake))
            mistakes.append(mistake)
        except CatalogueError as error:
            print(f"  {module.number} {mistake.name}: not graded: {error}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="tt-ta-guide-") as dist:
        bench = GradingBench.build(course, module, Path(dist))
        calibrate(bench)
        variants = [{relative: bench.as_submitted(text, relative) for relative, text in variant.items()}
                    for variant in variants]
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(_grade_one, str(bench.source), bench.config, variant) for variant in variants]
            graded = []
            for mistake, future in zip(mistakes, futures):
                graded.append(future.result())
                print(f"  {module.number} {mistake.name}: {len(graded[-1]['failed'])} failing tests, "
                      f"{graded[-1]['points_lost']:g} points lost ({graded[-1]['seconds']:g} s)",
                      file=sys.stderr, flush=True)
    record = {
        "module": module.number,
        "slug": module.slug,
        "command": GRADE_COMMAND.format(number=module.number),
        "graded": time.strftime("%Y-%m-%d", time.gmtime()),
        "mistakes": [{"name": mistake.name, "patch_sha256": patch_digest(mistake), **grade}
                     for mistake, grade in zip(mistakes, graded)],
    }
    path = path or symptoms_path(course, module)
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load_symptoms(course: Course, module: Module, path: Path | None = None) -> dict[str, dict]:
    """{mistake name: recorded entry} from NN_slug.symptoms.json (empty when none was written)."""
    path = path or symptoms_path(course, module)
    if not path.is_file():
        return {}
    return {entry["name"]: entry for entry in json.loads(path.read_text(encoding="utf-8"))["mistakes"]}


def load_caught_by(course: Course, module: Module) -> dict[str, dict]:
    """{mistake name: entry} of the committed validation report (points_lost, caught_by)."""
    path = course.root / "validation" / "reports" / f"{module.dirname}.json"
    if not path.is_file():
        return {}
    return {entry["name"]: entry for entry in json.loads(path.read_text(encoding="utf-8")).get("mistakes", [])}


# ---------------------------------------------------------------- what the guide says
def split_hint(description: str) -> tuple[str, str]:
    """(what the student did, the TA's hint) from a catalogue description."""
    parts = HINT.split(description, maxsplit=1)
    return parts[0].strip(), (parts[1].strip() if len(parts) > 1 else "")


def diff_of(mistake: Mistake) -> str:
    text = mistake.patch.read_text(encoding="utf-8")
    return text if text.startswith("--- ") else "--- " + text.split("\n--- ", 1)[1]


def changed_lines(diff: str) -> dict[str, set[int]]:
    """{file: 1-based lines of the original that a unified diff removes or inserts before}."""
    changed: dict[str, set[int]] = {}
    path, line = "", 0
    for text in diff.splitlines():
        if text.startswith("--- "):
            path = text[4:].split("\t")[0].removeprefix("a/")
        elif text.startswith("@@"):
            line = int(re.match(r"@@ -(\d+)", text).group(1))
        elif text.startswith("-") and not text.startswith("---"):
            changed.setdefault(path, set()).add(line)
            line += 1
        elif text.startswith("+") and not text.startswith("+++"):
            changed.setdefault(path, set()).add(line)
        elif text.startswith(" "):
            line += 1
    return changed


def regions_touched(course: Course, module: Module, mistake: Mistake) -> list[Region]:
    """The solution regions of the reference whose lines the mistake changes.

    The patch is applied (``git apply`` finds its hunks by context, so edits elsewhere in the file
    do not matter); only a patch that no longer applies falls back to its hunks' line numbers."""
    try:
        changed = {path: applied_changes(course, path, text)
                   for path, text in apply_mistake(course, module, mistake).items()}
    except CatalogueError:
        changed = changed_lines(diff_of(mistake))
    found: list[Region] = []
    for relative, lines in changed.items():
        source = course.root / "reference" / relative
        if source.is_file():
            found += [r for r in find_regions(source.read_text(encoding="utf-8"), relative)
                      if any(r.start_line < line <= r.end_line for line in lines)]
    return found


def applied_changes(course: Course, relative: str, changed: str) -> set[int]:
    """1-based lines of the reference file that ``changed`` (the file with a mistake) differs in."""
    original = (course.root / "reference" / relative).read_text(encoding="utf-8").splitlines()
    matcher = difflib.SequenceMatcher(a=original, b=changed.splitlines(), autojunk=False)
    return {first + 1 for tag, first, _, _, _ in matcher.get_opcodes() if tag != "equal"}


def fallback_hint(regions: list[Region]) -> str:
    """Without a ``Hint:`` line: point at the region and repeat its author's hint from the stub."""
    if not regions:
        return "Ask the student which function the first failing test calls, and to print its result on a tiny input."
    said = "; ".join(f"`{r.name}`" + (f": \"{r.hint}\"" if r.hint else "") for r in regions)
    return (f"Send the student back to {said} (the hint their stub gave), with the first failing test's "
            "numbers: what it expected against what their code returned.")


def failed_tests(symptom: dict | None, report_entry: dict | None) -> list[FailedTest]:
    if symptom is not None:
        return [FailedTest(**item) for item in symptom["failed"]]
    names = (report_entry or {}).get("caught_by", [])
    return [FailedTest(name, "", 0.0, "") for name in names]


def code(text: str) -> str:
    """Inline Markdown code that survives backquotes in the text."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def said(test: FailedTest) -> str:
    """What the feedback says: the headline, pytest's further explanation, what the test checks."""
    extra = test.detail.removeprefix(test.message).strip() if test.detail != test.message else ""
    parts = [code(test.message)] if test.message else []
    parts += [f"then {code(extra)}"] if extra else []
    parts += [f"(the test checks: {test.checks})"] if test.checks else []
    return " ".join(parts)


def symptom_lines(tests: list[FailedTest]) -> list[str]:
    """One bullet per distinct message, naming the tests that show it and when students see them."""
    by_message: dict[str, list[FailedTest]] = {}
    for test in tests:
        by_message.setdefault(said(test), []).append(test)
    lines = []
    for message, tests_with_it in by_message.items():
        by_group: dict[tuple[str, str], list[str]] = {}
        for test in tests_with_it:
            title, _, name = test.name.partition(" › ")
            by_group.setdefault((title, test.visibility), []).append(name or title)
        names = "; ".join(f"*{title}* › " + ", ".join(f"`{n}`" for n in tests)
                          + (f" ({WHEN_SEEN.get(seen, seen)})" if seen else "")
                          for (title, seen), tests in by_group.items())
        lines.append(f"- {names}" + (f" → {message}" if message else ""))
    return lines


def mistake_section(course: Course, module: Module, mistake: Mistake, symptom: dict | None,
                    report_entry: dict | None) -> list[str]:
    did, hint = split_hint(mistake.description)
    regions = regions_touched(course, module, mistake)
    where = ", ".join(f"`{r.name}`" for r in regions) or "no solution region"
    tests = failed_tests(symptom, report_entry)
    lost = (symptom or report_entry or {}).get("points_lost")
    out = [f"### `{mistake.name}` (in {where})", "", f"**What the student did.** {did}", ""]
    if symptom is not None:
        out += [f"**What the student sees.** The grader takes {lost:g} of {symptom['max_score']:g} points; "
                f"{len(tests)} test{'s fail' if len(tests) != 1 else ' fails'}:", ""]
    elif tests:
        out += [f"**What the student sees.** The grader takes {lost:g} points; these tests fail "
                f"(messages not recorded yet: `{GRADE_COMMAND.format(number=module.number)}`):", ""]
    else:
        out += ["**What the student sees.** Not graded yet: run "
                f"`{GRADE_COMMAND.format(number=module.number)}`.", ""]
    out += symptom_lines(tests) + ([""] if tests else [])
    out += [f"**Hint to give.** {hint or fallback_hint(regions)}", "", "```diff", diff_of(mistake).rstrip("\n"), "```", ""]
    return out


def module_section(course: Course, module: Module) -> list[str]:
    mistakes = load_catalogue(course, module)
    symptoms, report = load_symptoms(course, module), load_caught_by(course, module)
    recorded = [m for m in mistakes if m.name in symptoms]
    source = (f"symptoms from one grader run per mistake (`{GRADE_COMMAND.format(number=module.number)}`)"
              if len(recorded) == len(mistakes) else
              f"{len(recorded)} of {len(mistakes)} mistakes graded for their messages so far")
    files = ", ".join(f"`{f}`" for f in module.files)
    out = [f"## Module {module.number}: {module.title}", "",
           f"{files} · {len(mistakes)} catalogued mistakes · {source}.", ""]
    if not mistakes:
        return out + ["No mistakes catalogued yet (`validation/" + module.dirname + "/mistakes/`).", ""]
    for mistake in mistakes:
        out += mistake_section(course, module, mistake, symptoms.get(mistake.name), report.get(mistake.name))
    return out


INTRO = """\
# TA guide: catalogued mistakes, what students see, what to say

Generated by `python -m coursetools ta-guide` from `validation/NN_slug/mistakes/*.patch` (the mistakes),
`validation/reports/NN_slug.symptoms.json` (one real grader run of each) and `validation/reports/NN_slug.json`
(`make validate`). Do not edit by hand: change a patch or the tests, then regrade the module's symptoms with
`python -m coursetools ta-guide --grade NN` (add `Hint: ...` as the last paragraph of a patch's description to
give TAs a hint of your own).

**How to use it.** A student shows you a failing test or a feedback message: search this page for the test's
name. Each entry says what the student most likely did, every test that mistake fails with the headline of the
feedback the grader gives (and when students see it: visible tests at once, hidden ones after the due date), a
hint that points at the problem without giving the code away, and the mistake itself as a diff against the
solution (for you, not for the student).
"""


def render_guide(course: Course) -> str:
    """The whole guide, as Markdown; deterministic for the same sources."""
    lines = [INTRO]
    released = course.released()
    lines += ["| module | mistakes | messages recorded |", "|---|---:|---:|"]
    for module in released:
        mistakes, symptoms = load_catalogue(course, module), load_symptoms(course, module)
        anchor = f"module-{module.number}-{module.title.lower()}".replace(" ", "-")
        lines.append(f"| [{module.number} {module.title}](#{re.sub(r'[^a-z0-9-]', '', anchor)}) | {len(mistakes)} "
                     f"| {sum(m.name in symptoms for m in mistakes)} |")
    lines.append("")
    for module in released:
        lines += module_section(course, module)
    return "\n".join(lines).rstrip("\n") + "\n"


def stale_symptoms(course: Course) -> list[str]:
    """Why recorded symptoms no longer describe the catalogue or the tests (empty: all current)."""
    problems = []
    for module in course.released():
        symptoms = load_symptoms(course, module)
        fix = GRADE_COMMAND.format(number=module.number)
        for mistake in load_catalogue(course, module) if symptoms else []:
            entry = symptoms.get(mistake.name)
            if entry is None:
                continue  # listed with the validation report's tests until graded (ungraded_mistakes)
            if entry["patch_sha256"] != patch_digest(mistake):
                problems.append(f"{module.dirname}: '{mistake.name}' changed since its symptoms were graded; run `{fix}`")
            else:
                problems += [f"{module.dirname}: '{mistake.name}' {gone}; run `{fix}`"
                             for gone in missing_tests(course, module, entry["failed"])]
    return problems


def missing_tests(course: Course, module: Module, failed: list[dict]) -> list[str]:
    """Recorded failing tests whose group title or test function no longer exists (tests changed)."""
    files = {g.title: (course.root / g.path).read_text(encoding="utf-8") for g in module.groups
             if (course.root / g.path).is_file()}
    gone = []
    for test in failed:
        title, _, name = test["name"].partition(" › ")
        function = name.split("[", 1)[0]
        if title not in files:
            gone.append(f"records a test of group '{title}', which the manifest no longer has")
        elif not re.search(rf"def {re.escape(function)}\(", files[title]):
            gone.append(f"records {function}, which is no longer in the group's test file")
    return gone


def report_disagreements(course: Course) -> list[str]:
    """Mistakes whose recorded failing tests differ from the validation report's (one of the two is older)."""
    found = []
    for module in course.released():
        report = load_caught_by(course, module)
        for name, entry in load_symptoms(course, module).items():
            if name in report and sorted(t["name"] for t in entry["failed"]) != sorted(report[name]["caught_by"]):
                found.append(f"{module.dirname}/{name}")
    return found


def ungraded_mistakes(course: Course) -> list[str]:
    """``NN_slug/name`` of every catalogued mistake without recorded symptoms."""
    return [f"{module.dirname}/{mistake.name}" for module in course.released()
            for mistake in load_catalogue(course, module) if mistake.name not in load_symptoms(course, module)]


def main(*, grade: list[str] | None = None, workers: int = 1, check: bool = False) -> int:
    """Write docs/guides/ta.md (or, with check, compare it); grade the listed modules' symptoms first.

    Args:
        grade: module numbers whose mistakes to grade again (``["all"]``: every released module).
        check: write nothing; return 1 when the committed guide or the symptoms are out of date.
    """
    course = load_course()
    chosen = course.released() if grade == ["all"] else [course.module(n) for n in grade or []]
    failed = []
    for module in chosen:
        print(f"grading the {module.dirname} mistakes through the grader ...", file=sys.stderr, flush=True)
        try:
            print(f"wrote {grade_symptoms(course, module, workers=workers).relative_to(course.root)}")
        except RuntimeError as error:  # the reference itself lost points (a timed group on a busy machine)
            print(f"  {module.dirname} not graded: {error}", file=sys.stderr)
            failed.append(module.number)
    text, target = render_guide(course), course.root / GUIDE
    if check:
        problems = stale_symptoms(course)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            problems.append(f"{GUIDE} is not what its sources give; run `python -m coursetools ta-guide`")
        for problem in problems:
            print(problem, file=sys.stderr)
        differ = report_disagreements(course)
        if differ:
            print(f"note: the validation reports name other catching tests for {', '.join(differ)}: regrade the "
                  "symptoms, or rerun make validate if the report is the older one", file=sys.stderr)
        missing = ungraded_mistakes(course)
        if missing:
            print(f"note: {len(missing)} mistakes have no recorded messages yet ({', '.join(missing)}); "
                  "run `python -m coursetools ta-guide --grade all`", file=sys.stderr)
        return 1 if problems else 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {GUIDE}")
    if failed:
        print(f"not graded: modules {', '.join(failed)}; run `python -m coursetools ta-guide --grade "
              f"{' '.join(failed)}` again", file=sys.stderr)
    return 1 if failed else 0
