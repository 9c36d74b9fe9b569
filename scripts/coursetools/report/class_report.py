"""``make report RESULTS=DIR``: the TA console for a graded class, from what ``make grade-batch`` wrote.

Reads ``DIR/<student>/`` (results.json, status.json, submitted/), ``DIR/_starter/`` and, when
present, ``DIR/_metadata.json`` (names, emails, submission times, late; from ``make collect`` or a
Gradescope export). Writes into DIR (or ``out``):

- ``summary.json``: the class in numbers (below);
- ``gradebook.csv`` and ``gradebook-canvas.csv`` (see ``coursetools.report.gradebook``);
- ``report/index.html`` and ``report/students/<student>.html``: a self-contained site, no server
  and no external file (see ``coursetools.report.pages``).

A student whose grading failed is **ungraded** (with the reason) everywhere: no score, left out
of the mean and the histogram, an empty cell and an error in the gradebooks. Groups and tests are
in manifest order (the grader numbers them ``group.test``). Pairs of suspiciously similar
submissions come from copydetect (winnowed fingerprints, as MOSS does) over the files each
student owns, the starter code counting as boilerplate.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

BINS = 10
SIMILARITY_THRESHOLD = 0.5
"""Pairs whose copied share (of either file's tokens) exceeds this are listed."""
COMMON = 10
"""How many failure messages the class page lists."""
TIMEOUT_MARKERS = ("Timeout", "stopped after", "ran longer than")


@dataclass
class Student:
    """One submission as the batch left it."""

    name: str
    status: str
    """graded, ungraded (the grader failed) or missing (nothing was collected)."""
    results: dict | None = None
    reason: str | None = None
    seconds: float | None = None
    meta: dict = field(default_factory=dict)
    submitted: dict[str, str] = field(default_factory=dict)

    @property
    def score(self) -> float | None:
        return round(self.results["score"], 2) if self.status == "graded" else None

    def tests(self) -> list[dict]:
        return graded_tests(self.results or {})


def graded_tests(result: dict) -> list[dict]:
    return [t for t in result.get("tests", []) if "summary" not in t.get("tags", [])]


def load_class(folder: Path) -> dict[str, Student]:
    """Every student folder of RESULTS (and the roster's missing students), by name."""
    folder = Path(folder)
    metadata = _read_json(folder / "_metadata.json") or {}
    found = {}
    for path in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        if (path / "results.json").is_file() or (path / "status.json").is_file():
            found[path.name] = load_student(path, metadata.get(path.name, {}))
    for name, meta in metadata.items():
        if name not in found and meta.get("status") == "missing":
            found[name] = Student(name, "missing", reason=meta.get("reason"), meta=meta)
    if not found:
        raise FileNotFoundError(f"no <student>/results.json under {folder}; run make grade-batch first")
    return dict(sorted(found.items()))


def load_student(path: Path, meta: dict) -> Student:
    status = _read_json(path / "status.json") or {}
    results = _read_json(path / "results.json")
    submitted = {p.relative_to(path / "submitted").as_posix(): p.read_text(encoding="utf-8", errors="replace")
                 for p in sorted((path / "submitted").rglob("*")) if p.is_file()}
    common = {"meta": meta, "submitted": submitted, "seconds": status.get("seconds")}
    if status.get("status") == "ungraded" or results is None or results.get("extra_data", {}).get("grading_error"):
        reason = status.get("reason") or "results.json is missing or unreadable; rerun make grade-batch"
        return Student(path.name, "ungraded", reason=reason, **common)
    return Student(path.name, "graded", results=results, **common)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def group_layout(students: dict[str, Student]) -> list[dict]:
    """The groups in manifest order: name, title, max_points, tests (names in order)."""
    groups: dict[str, dict] = {}
    for student in students.values():
        for test in student.tests():
            name = (test.get("tags") or ["?"])[0]
            group = groups.setdefault(name, {"name": name, "title": test["name"].split(" \u203a ")[0],
                                             "order": _order(test), "tests": {}})
            group["order"] = min(group["order"], _order(test))
            group["tests"].setdefault(test["name"], (_order(test), test["max_score"]))
    layout = []
    for group in sorted(groups.values(), key=lambda g: g["order"]):
        tests = sorted(group["tests"].items(), key=lambda item: item[1][0])
        layout.append({"name": group["name"], "title": group["title"], "tests": [name for name, _ in tests],
                       "max_points": round(sum(points for _, (_, points) in tests), 2)})
    return layout


def _order(test: dict) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(test.get("number", "")).split("."))
    except ValueError:
        return (10**6,)


def group_points(student: Student) -> dict[str, float]:
    points = defaultdict(float)
    for test in student.tests():
        points[(test.get("tags") or ["?"])[0]] += test["score"]
    return {name: round(value, 2) for name, value in points.items()}


def is_timeout(test: dict) -> bool:
    return test["status"] != "passed" and any(marker in test.get("output", "") for marker in TIMEOUT_MARKERS)


def summarise(students: dict[str, Student]) -> dict:
    """The class in numbers; every list names the students it counts."""
    layout = group_layout(students)
    graded = {n: s for n, s in students.items() if s.status == "graded"}
    max_score = round(sum(g["max_points"] for g in layout), 2) or max(
        (s.results.get("extra_data", {}).get("max_score", 0) for s in graded.values()), default=0)
    scores = {n: s.score for n, s in students.items()}
    histogram = [0] * BINS
    for score in (s.score for s in graded.values()):
        histogram[min(BINS - 1, int(BINS * score / (max_score or 1)))] += 1
    return {
        "students": len(students),
        "graded": len(graded),
        "max_score": max_score,
        "mean_score": round(sum(s.score for s in graded.values()) / len(graded), 2) if graded else None,
        "scores": scores,
        "histogram": {"bins": [round(max_score * i / BINS, 2) for i in range(BINS + 1)], "counts": histogram},
        "groups": [_group_rollup(group, graded) for group in layout],
        "pass_rate": _pass_rates(layout, graded),
        "common_failures": _failures(graded)[:COMMON],
        "timeouts": _timeouts(layout, graded),
        "slowest_tests": _slowest(graded),
        "ungraded": [{"student": n, "reason": s.reason} for n, s in students.items() if s.status == "ungraded"],
        "missing": [{"student": n, "reason": s.reason} for n, s in students.items() if s.status == "missing"],
        "late": sorted(n for n, s in students.items() if s.meta.get("late")),
    }


def _group_rollup(group: dict, graded: dict[str, Student]) -> dict:
    points = [group_points(s).get(group["name"], 0.0) for s in graded.values()]
    return {"name": group["name"], "title": group["title"], "max_points": group["max_points"],
            "mean_points": round(sum(points) / len(points), 2) if points else None,
            "full_marks": sum(abs(p - group["max_points"]) < 1e-6 for p in points), "students": len(points)}


def _pass_rates(layout: list[dict], graded: dict[str, Student]) -> list[dict]:
    outcomes = defaultdict(list)
    for name, student in graded.items():
        for test in student.tests():
            outcomes[test["name"]].append(test["status"] == "passed")
    rates = []
    for group in layout:
        for test in group["tests"]:
            seen = outcomes.get(test, [])
            rates.append({"test": test, "group": group["name"], "passed": sum(seen), "total": len(seen),
                          "rate": round(sum(seen) / len(seen), 4) if seen else None})
    return rates


def _failures(graded: dict[str, Student]) -> list[dict]:
    hit: dict[str, list[str]] = defaultdict(list)
    for name, student in graded.items():
        for test in student.tests():
            if test["status"] != "passed":
                message = first_line(test.get("output", ""))
                if name not in hit[message]:
                    hit[message].append(name)
    return sorted(({"message": m, "count": len(s), "students": s} for m, s in hit.items()),
                  key=lambda item: (-item["count"], item["message"]))


def _timeouts(layout: list[dict], graded: dict[str, Student]) -> list[dict]:
    hit: dict[str, list[str]] = defaultdict(list)
    for name, student in graded.items():
        for test in student.tests():
            if is_timeout(test):
                hit[test["name"]].append(name)
    order = [t for g in layout for t in g["tests"]]
    return [{"test": t, "count": len(hit[t]), "students": hit[t]} for t in order if hit.get(t)]


def _slowest(graded: dict[str, Student]) -> list[dict]:
    longest: dict[str, tuple[float, str]] = {}
    for name, student in graded.items():
        for test in student.tests():
            seconds = (test.get("extra_data") or {}).get("seconds")
            if seconds is not None and seconds > longest.get(test["name"], (-1.0, ""))[0]:
                longest[test["name"]] = (seconds, name)
    ranked = sorted(longest.items(), key=lambda item: -item[1][0])[:10]
    return [{"test": t, "seconds": round(s, 3), "student": who} for t, (s, who) in ranked]


def similar_pairs(folder: Path, threshold: float = SIMILARITY_THRESHOLD) -> list[dict]:
    """Pairs of students whose owned files overlap beyond threshold, most similar first."""
    submitted = sorted(p for p in folder.glob("*/submitted") if p.is_dir() and any(p.rglob("*.py")))
    if len(submitted) < 2:
        return []
    from copydetect import CopyDetector

    starter = folder / "_starter"
    detector = CopyDetector(test_dirs=[str(p) for p in submitted], ref_dirs=[str(p) for p in submitted],
                            boilerplate_dirs=[str(starter)] if starter.is_dir() else [], extensions=["py"],
                            display_t=threshold, autoopen=False, silent=True, out_file=str(folder / "copydetect.html"))
    detector.run()
    pairs = {}
    for test_sim, ref_sim, test_file, ref_file, *_rest, overlap in detector.get_copied_code_list():
        first, second = sorted((_student_of(folder, test_file), _student_of(folder, ref_file)))
        if first == second:
            continue
        similarity = round(float(max(test_sim, ref_sim)), 3)
        if similarity > pairs.get((first, second), {}).get("similarity", -1):
            pairs[(first, second)] = {"students": [first, second], "similarity": similarity,
                                      "file": Path(test_file).name, "tokens": int(overlap)}
    return sorted(pairs.values(), key=lambda pair: -pair["similarity"])


def _student_of(folder: Path, path: str) -> str:
    return Path(path).resolve().relative_to(folder.resolve()).parts[0]


def starter_files(folder: Path) -> dict[str, str]:
    starter = folder / "_starter"
    return {p.relative_to(starter).as_posix(): p.read_text(encoding="utf-8", errors="replace")
            for p in sorted(starter.rglob("*")) if p.is_file()} if starter.is_dir() else {}


def first_line(output: str) -> str:
    for line in output.splitlines():
        line = line.strip().replace("**Failed**: ", "").replace("**Not run**: ", "")
        if line and not line.startswith("```"):
            return line[:200]
    return ""


def main(*, results: str, out: str | None = None, title: str | None = None) -> dict:
    from coursetools.report.gradebook import write_canvas_gradebook, write_gradebook
    from coursetools.report.pages import write_site

    folder = Path(results)
    target = Path(out) if out else folder
    target.mkdir(parents=True, exist_ok=True)
    students = load_class(folder)
    summary = summarise(students)
    summary["similar_pairs"] = similar_pairs(folder)
    index = _read_json(folder / "index.json") or {}
    title = title or (f"Module {index['module']}" if index.get("module") else "Class")
    (target / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    layout = group_layout(students)
    write_gradebook(students, layout, target / "gradebook.csv")
    write_canvas_gradebook(students, summary["max_score"], title, target / "gradebook-canvas.csv")
    site = write_site(students, summary, layout, starter_files(folder), target / "report", title)
    mean = "no graded submission" if summary["mean_score"] is None else f"mean {summary['mean_score']:g}"
    print(f"{summary['students']} students ({summary['graded']} graded, {len(summary['ungraded'])} ungraded, "
          f"{len(summary['missing'])} missing), {mean} / {summary['max_score']:g}: {target / 'gradebook.csv'}, "
          f"{site}")
    return summary
