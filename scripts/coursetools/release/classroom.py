"""The GitHub Actions workflow of a student repository (``.github/workflows/classroom.yml``).

It needs no Classroom service (GitHub Classroom was discontinued on 2026-08-28): on every push
the job installs the repository, grades the visible groups with the course's own grader
(``tito grade NN``: the Gradescope runner on a bundle of the visible tests), writes the score
table to the job summary, uploads ``results.json`` as an artifact, and hands each group's result
to the real ``education/autograding-grading-reporter@v1``, which prints the per-group table and
fails the job until every visible test passes. Hidden groups never appear.

The reporter reads ``<RUNNER upper-cased>_RESULTS`` (hyphens kept) and validates the runner list
as ``[a-zA-Z0-9]+`` names, so runner ids are the group names with everything else dropped.
Templates: ``skeletons/workflow/classroom.yml.j2`` and the step script ``grade_summary.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jinja2

from coursetools.manifest import Course, Module

TEMPLATES = Path(__file__).resolve().parents[3] / "skeletons" / "workflow"
JOB_MINUTES = 30
"""Installing numpy and pytest takes about a minute; grading a module's visible tests a few."""


class WorkflowError(ValueError):
    """The manifest's groups cannot be named in the workflow."""


def runner_id(group_name: str) -> str:
    """``matmul_shape`` -> ``matmulshape``: a name the reporter accepts and can find again."""
    return re.sub(r"[^A-Za-z0-9]", "", group_name)


def visible_groups(module: Module) -> list[dict]:
    """The visible groups as the workflow names them: name, runner id, title, points."""
    groups = [{"name": g.name, "runner": runner_id(g.name), "title": g.title, "points": g.points}
              for g in module.groups if not g.hidden]
    runners = [g["runner"] for g in groups]
    clashes = sorted({r for r in runners if runners.count(r) > 1 or not r})
    if clashes:
        raise WorkflowError(f"module {module.number}: groups {clashes} give the same (or an empty) reporter runner id "
                            "once non-alphanumeric characters are dropped; rename one in reference/course.toml")
    return groups


def step_script(module: Module) -> str:
    """grade_summary.py with the module's visible groups filled in."""
    text = (TEMPLATES / "grade_summary.py").read_text(encoding="utf-8")
    hidden = sum(g.points for g in module.groups if g.hidden)
    filled = {
        "GROUPS = []": f"GROUPS = {json.dumps(visible_groups(module))}",
        'MODULE = ""': f"MODULE = {json.dumps(f'{module.number} ({module.slug})')}",
        "HIDDEN_POINTS = 0.0": f"HIDDEN_POINTS = {hidden!r}",
    }
    for placeholder, value in filled.items():
        if placeholder not in text:
            raise WorkflowError(f"{TEMPLATES / 'grade_summary.py'} lost its placeholder {placeholder!r}")
        text = text.replace(placeholder, value, 1)
    return text


def workflow_yaml(course: Course, module: Module) -> str:
    """The workflow text for the module's student repository."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("classroom.yml.j2").render(
        module=module, python=course.python, job_minutes=JOB_MINUTES, groups=visible_groups(module),
        script=step_script(module).rstrip("\n"),
        results_path=f".tito/local/grade/{module.dirname}/results.json",
    )
