"""The report site's HTML: a class page and a page per student, self-contained (no server, no external file).

``report/index.html``: overview, score histogram, per-group roll-up (manifest order), the students
table (score, status, late, points per group; each name links to their page), pass rate per test,
commonest failures and timeouts with the students they hit, similar pairs, ungraded and missing
students with the reason. ``report/students/<name>.html``: who (name, email, submission time,
late), each group and test (status, points, seconds, the grader's message), the submitted files,
and their diff against the starter code. Tables with ``class="sortable"`` sort by a click on a
heading (a few lines of inline script; everything works without it).
"""

from __future__ import annotations

import difflib
import html
import re
from pathlib import Path

STYLE = """
body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin-bottom:2em}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3} table.sortable th{cursor:pointer}
.hist{display:flex;align-items:flex-end;gap:6px;height:170px}
.bar{display:flex;flex-direction:column;align-items:center;width:60px}
.bar span{background:#4a7;width:40px;display:block}
.passed{color:#176b2c} .failed{color:#a11} .ungraded,.missing{color:#a60;font-weight:bold}
pre{background:#f7f7f7;padding:8px;overflow-x:auto;font-size:12px}
.add{background:#e6ffec} .del{background:#ffebe9} .hunk{color:#666}
"""
SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (heading, column) {
    heading.addEventListener("click", function () {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var down = heading.getAttribute("data-order") !== "asc";
      heading.setAttribute("data-order", down ? "asc" : "desc");
      rows.sort(function (a, b) {
        var x = a.cells[column].getAttribute("data-sort") || a.cells[column].textContent;
        var y = b.cells[column].getAttribute("data-sort") || b.cells[column].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return down ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""
e = html.escape


def student_href(name: str, prefix: str = "students/") -> str:
    """Where a student's page is, relative to the class page (a name safe in a file and a URL)."""
    return f"{prefix}{re.sub(r'[^A-Za-z0-9._-]', '_', name)}.html"


def page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{STYLE}</style></head><body>{body}<script>{SORT_SCRIPT}</script></body></html>\n")


def table(table_id: str, headings: list[str], rows: list[str], sortable: bool = False, empty: str = "none") -> str:
    head = "".join(f"<th>{e(h)}</th>" for h in headings)
    body = "".join(rows) or f'<tr><td colspan="{len(headings)}">{e(empty)}</td></tr>'
    css = ' class="sortable"' if sortable else ""
    return f'<table id="{table_id}"{css}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def links(names: list[str], prefix: str = "students/") -> str:
    return ", ".join(f'<a href="{student_href(n, prefix)}">{e(n)}</a>' for n in names)


def score_cell(student) -> str:
    if student.status == "graded":
        return f'<td data-sort="{student.score}">{student.score:g}</td>'
    return f'<td data-sort="-1" class="{student.status}">{student.status}</td>'


def class_page(students: dict, summary: dict, layout: list[dict], title: str) -> str:
    counts = summary["histogram"]["counts"]
    bars = "".join(
        f'<div class="bar"><span style="height:{4 + 120 * c / max(1, max(counts))}px"></span>'
        f'<small>{summary["histogram"]["bins"][i]:g}</small><b>{c}</b></div>' for i, c in enumerate(counts))
    mean = "-" if summary["mean_score"] is None else f"{summary['mean_score']:.2f}"
    overview = (f'<p id="overview">{summary["students"]} students: {summary["graded"]} graded, '
                f'{len(summary["ungraded"])} ungraded, {len(summary["missing"])} missing; mean score {mean} of '
                f'{summary["max_score"]:g} (graded submissions only).</p>')
    groups = [f'<tr><td>{e(g["title"])}</td><td>{g["max_points"]:g}</td><td>{_maybe(g["mean_points"])}</td>'
              f'<td>{g["full_marks"]} / {g["students"]}</td></tr>' for g in summary["groups"]]
    roster = [_student_row(s, layout) for s in students.values()]
    rates = [f'<tr><td>{e(r["test"])}</td><td>{e(r["group"])}</td>'
             f'<td data-sort="{r["rate"] if r["rate"] is not None else -1}">{_percent(r["rate"])}</td>'
             f'<td>{r["passed"]} / {r["total"]}</td></tr>' for r in summary["pass_rate"]]
    failures = [f'<tr><td>{f["count"]}</td><td><code>{e(f["message"])}</code></td><td>{links(f["students"])}</td></tr>'
                for f in summary["common_failures"]]
    timeouts = [f'<tr><td>{e(t["test"])}</td><td>{t["count"]}</td><td>{links(t["students"])}</td></tr>'
                for t in summary["timeouts"]]
    slow = [f'<tr><td>{e(t["test"])}</td><td data-sort="{t["seconds"]}">{t["seconds"]:.2f} s</td>'
            f'<td>{links([t["student"]])}</td></tr>' for t in summary["slowest_tests"]]
    similar = [f'<tr><td>{links(p["students"][:1])}</td><td>{links(p["students"][1:])}</td>'
               f'<td data-sort="{p["similarity"]}">{p["similarity"]:.0%}</td><td>{e(p["file"])}</td>'
               f'<td>{p["tokens"]}</td></tr>' for p in summary.get("similar_pairs", [])]
    problems = [f'<tr><td>{links([u["student"]])}</td><td class="{kind}">{kind}</td><td>{e(u["reason"] or "")}</td></tr>'
                for kind in ("ungraded", "missing") for u in summary[kind]]
    headings = ["student", "name", "score", "late", *[g["name"] for g in layout]]
    body = (
        f"<h1>{e(title)}: class report</h1>{overview}"
        f'<h2>Score histogram</h2><div class="hist" id="histogram">{bars}</div>'
        "<h2>Groups</h2>" + table("groups", ["group", "points", "mean", "full marks"], groups) +
        "<h2>Students</h2>" + table("students", headings, roster, sortable=True) +
        "<h2>Pass rate per test</h2>" + table("pass-rate", ["test", "group", "passed", "students"], rates, True) +
        "<h2>Commonest failure messages</h2>" + table("failures", ["count", "message", "students"], failures) +
        "<h2>Timeouts</h2>" + table("timeouts", ["test", "timed out", "students"], timeouts) +
        "<h2>Slowest tests</h2>" + table("slowest", ["test", "longest run", "student"], slow, True) +
        "<h2>Suspiciously similar submissions</h2><p>copydetect over each student's own files, starter code "
        "ignored; threshold 50%.</p>" +
        table("similar", ["student", "student", "similarity", "file", "shared tokens"], similar, True,
              "none above the threshold") +
        "<h2>Not graded</h2>" + table("grading-errors", ["student", "status", "reason"], problems)
    )
    return page(f"{title}: class report", body)


def _student_row(student, layout: list[dict]) -> str:
    from coursetools.report.class_report import group_points

    points = group_points(student) if student.status == "graded" else {}
    cells = "".join(f'<td>{points.get(g["name"], 0.0):g}</td>' if student.status == "graded" else "<td></td>"
                    for g in layout)
    late = _late(student.meta)
    return (f'<tr><td><a href="{student_href(student.name)}">{e(student.name)}</a></td>'
            f'<td>{e(student.meta.get("name", ""))}</td>{score_cell(student)}<td>{e(late)}</td>{cells}</tr>')


def student_page(student, layout: list[dict], starter: dict[str, str], title: str) -> str:
    meta = student.meta
    facts = [("student", student.name), ("name", meta.get("name", "")), ("email", meta.get("email", "")),
             ("submitted", meta.get("submitted_at", "")), ("deadline", meta.get("deadline", "")),
             ("late", _late(meta)), ("commit", meta.get("commit", "")),
             ("grading time", f"{student.seconds:.1f} s" if student.seconds else "")]
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in facts if v != "")
    if student.status == "graded":
        verdict = f'<p id="score">Score {student.score:g} of {sum(g["max_points"] for g in layout):g}.</p>'
    else:
        verdict = f'<p id="score" class="{student.status}">{student.status.capitalize()}: {e(student.reason or "")}</p>'
    body = (f'<p><a href="../index.html">&larr; class report</a></p><h1>{e(title)}: {e(student.name)}</h1>'
            f'<table id="who">{rows}</table>{verdict}' + _groups_html(student, layout) +
            "<h2>Submitted files</h2>" + _files_html(student.submitted) +
            "<h2>Changes from the starter code</h2>" + _diff_html(starter, student.submitted))
    return page(f"{title}: {student.name}", body)


def _groups_html(student, layout: list[dict]) -> str:
    by_name = {t["name"]: t for t in student.tests()}
    parts = []
    for group in layout:
        rows = []
        for name in group["tests"]:
            test = by_name.get(name)
            if test is None:
                rows.append(f"<tr><td>{e(name.split(' › ')[-1])}</td><td>-</td><td></td><td></td><td></td></tr>")
                continue
            seconds = (test.get("extra_data") or {}).get("seconds")
            message = test.get("output", "") if test["status"] != "passed" else ""
            rows.append(f'<tr><td>{e(name.split(" › ")[-1])}</td><td class="{e(test["status"])}">{e(test["status"])}</td>'
                        f'<td>{test["score"]:g} / {test["max_score"]:g}</td>'
                        f'<td>{"" if seconds is None else f"{seconds:.2f} s"}</td>'
                        f'<td>{"<pre>" + e(message[:4000]) + "</pre>" if message else ""}</td></tr>')
        parts.append(f"<h2>{e(group['title'])}</h2>" +
                     table(f"group-{e(group['name'])}", ["test", "status", "points", "time", "message"], rows))
    return "".join(parts)


def _files_html(files: dict[str, str]) -> str:
    if not files:
        return "<p>none kept</p>"
    return "".join(f"<h3>{e(path)}</h3><pre>{e(text)}</pre>" for path, text in files.items())


def _diff_html(starter: dict[str, str], files: dict[str, str]) -> str:
    parts = []
    for path, text in files.items():
        lines = difflib.unified_diff(starter.get(path, "").splitlines(), text.splitlines(),
                                     f"starter/{path}", f"submitted/{path}", lineterm="", n=2)
        rendered = "\n".join(f'<span class="{_diff_class(line)}">{e(line)}</span>' for line in lines)
        parts.append(f"<h3>{e(path)}</h3><pre>{rendered or 'identical to the starter code'}</pre>")
    return "".join(parts) or "<p>no submitted files</p>"


def _diff_class(line: str) -> str:
    if line.startswith("@@"):
        return "hunk"
    if line.startswith("+") and not line.startswith("+++"):
        return "add"
    if line.startswith("-") and not line.startswith("---"):
        return "del"
    return "ctx"


def _late(meta: dict) -> str:
    if "late" not in meta or meta.get("late") is None:
        return ""
    return "late" if meta["late"] else "on time"


def _maybe(value) -> str:
    return "-" if value is None else f"{value:g}"


def _percent(rate) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def write_site(students: dict, summary: dict, layout: list[dict], starter: dict[str, str], folder: Path,
               title: str) -> Path:
    """report/index.html and report/students/*.html; returns the index page's path."""
    (folder / "students").mkdir(parents=True, exist_ok=True)
    for stale in (folder / "students").glob("*.html"):
        stale.unlink()
    for student in students.values():
        (folder / student_href(student.name)).write_text(student_page(student, layout, starter, title),
                                                         encoding="utf-8")
    index = folder / "index.html"
    index.write_text(class_page(students, summary, layout, title), encoding="utf-8")
    return index
