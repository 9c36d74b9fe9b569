"""The gradebook CSVs of ``make report``: one for people and spreadsheets, one for Canvas's import.

``gradebook.csv``: a header (student, name, email, one column per group in manifest order, total,
status, error), then a ``max points`` row, then one row per student; scores rounded to 2
decimals. An ungraded or missing student has empty score cells, their status and the reason in
``error``: never a 0 an LMS upload would take for a grade.

``gradebook-canvas.csv``: Canvas's gradebook import layout (Student, ID, SIS User ID, SIS Login ID,
Section, then the assignment column), a ``Points Possible`` row, the student id as SIS User ID
and the email as SIS Login ID (edit those two columns if your Canvas uses other identifiers).
Canvas leaves a blank cell's grade unchanged, so an ungraded student keeps what Canvas has.
"""

from __future__ import annotations

import csv
from pathlib import Path

CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def write_gradebook(students: dict, layout: list[dict], path: Path) -> None:
    from coursetools.report.class_report import group_points

    groups = [g["name"] for g in layout]
    total = round(sum(g["max_points"] for g in layout), 2)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "name", "email", *groups, "total", "status", "error"])
        writer.writerow(["max points", "", "", *(_number(g["max_points"]) for g in layout), _number(total), "", ""])
        for name, student in students.items():
            meta = student.meta
            if student.status == "graded":
                points = group_points(student)
                cells = [_number(points.get(g, 0.0)) for g in groups] + [_number(student.score)]
            else:
                cells = [""] * (len(groups) + 1)
            writer.writerow([name, meta.get("name", ""), meta.get("email", ""), *cells, student.status,
                             student.reason or ""])


def write_canvas_gradebook(students: dict, max_score: float, assignment: str, path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*CANVAS_COLUMNS, assignment])
        writer.writerow(["Points Possible", "", "", "", "", _number(max_score)])
        for name, student in students.items():
            score = _number(student.score) if student.status == "graded" else ""
            writer.writerow([student.meta.get("name", name), "", name, student.meta.get("email", ""), "", score])


def _number(value: float) -> str:
    return f"{round(value, 2):g}"
