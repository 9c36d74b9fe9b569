"""``tito grade NN``: the autograder's verdict on your own tree, before you submit.

In a student repository the release left a local grader (``.tito/grader/``: the module's
visible groups and their expected test ids, Gradescope's ``run_autograder``) and the grader
runtime (``tools/tinytorch_grader``). tito packs them with the repository's tree into a
bundle and grades the repository with ``coursetools.grade.submission.grade_with_bundle``: the same
runner, overlay and scoring as Gradescope, so the visible points agree with ``make grade``.
In the course repository it grades the reference (or ``--submission PATH``) with the
module's real bundle through ``coursetools.grade.submission.main``.

The grader's own chatter (which names its throwaway folder) is kept back; tito prints where the
results stay: ``results.json`` and ``report.json`` under the workspace's state folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from coursetools.tito.errors import FAILED, OK, TitoError
from coursetools.tito.module import notebook_warnings
from coursetools.tito.output import Output
from coursetools.tito.workspace import ModuleInfo, Workspace


def grade(ws: Workspace, out: Output, args) -> int:
    module = ws.module(args.number)
    if module.status != "released":
        raise TitoError(f"module {module.number} is planned, not released; there is nothing to grade yet")
    warnings = notebook_warnings(ws, module, out)
    target = results_path(ws, module)
    printed: list[str] = []
    try:
        with out.captured_stdout() as printed:
            data = _grade_student(ws, module, target) if ws.is_student else _grade_course(ws, module, args, target)
    except Exception:
        sys.stderr.write("".join(printed))
        raise
    visible = [t for t in data["tests"] if t.get("visibility") == "visible" and "summary" not in t.get("tags", [])]
    score = round(sum(t["score"] for t in visible), 2)
    max_score = round(sum(t["max_score"] for t in visible), 2)
    rows = [[t.get("number", ""), t["name"], f"{t['score']:g} / {t['max_score']:g}", t["status"]] for t in visible]
    out.table(f"Module {module.number}: what the autograder gives your visible tests",
              ["#", "test", "points", "status"], rows, ["green" if t["status"] == "passed" else "red" for t in visible])
    hidden = module.max_points - module.visible_points
    out.say(f"visible tests: {score:g} / {max_score:g} points"
            + (f"; {hidden:g} more points come from hidden tests after the deadline" if hidden else ""))
    out.say(f"results: {target} (report.json beside it)")
    out.data({"module": module.number, "score": round(score, 4), "max_score": round(max_score, 4),
              "hidden_points": hidden, "tests": visible, "results": str(target), "warnings": warnings})
    return OK if visible and all(t["status"] == "passed" for t in visible) else FAILED


def results_path(ws: Workspace, module: ModuleInfo) -> Path:
    """Where ``tito grade`` keeps a module's results.json (git-ignored, there until the next grade)."""
    return ws.state_dir / "grade" / module.dirname / "results.json"


def _grade_student(ws: Workspace, module: ModuleInfo, target: Path) -> dict:
    from coursetools.grade.submission import grade_with_bundle

    if module.number != ws.assigned:
        raise TitoError(f"this repository is graded for module {ws.assigned}; module {module.number} "
                        "is provided complete and graded in its own repository")
    with tempfile.TemporaryDirectory(prefix="tito-grade-") as scratch:
        archive = pack_local_bundle(ws, module, Path(scratch))
        return grade_with_bundle(archive, ws.root, target)


def pack_local_bundle(ws: Workspace, module: ModuleInfo, scratch: Path) -> Path:
    """A Gradescope-shaped bundle of the visible groups, built from this repository's own files."""
    grader = ws.grader_dir
    runtime = ws.root / "tools" / "tinytorch_grader"
    for needed in (grader / "grader.json", grader / "run_autograder", runtime):
        if not needed.exists():
            raise TitoError(f"{needed} is missing; restore it with `git checkout -- {needed.relative_to(ws.root)}`")
    source = scratch / "source"
    tree = source / "tree"
    shutil.copytree(ws.root / "tinytorch", tree / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(ws.root / "conftest.py", tree / "conftest.py")
    for group in module.visible_groups:
        (tree / group.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ws.root / group.path, tree / group.path)
    shutil.copyfile(grader / "pytest.ini", tree / "pytest.ini")
    shutil.copytree(runtime, source / "tinytorch_grader", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(grader / "run_autograder", source / "run_autograder")
    config = json.loads((grader / "grader.json").read_text(encoding="utf-8"))
    config["expected"] = expected_tests(ws, module, tree, scratch / "probe")
    (source / "grader.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    archive = scratch / "gradescope.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(source).as_posix())
    return archive


def expected_tests(ws: Workspace, module: ModuleInfo, tree: Path, probe: Path) -> dict[str, list[str]]:
    """Test ids per visible group, collected on the tree with the starter files in place.

    The grader lists every expected test, so a test that never reports still scores 0 visibly.
    Collecting on the starter (which the release checked to collect cleanly) keeps the student's
    code, whatever state it is in, out of that list; the bundle collects on the reference instead.
    """
    shutil.copytree(tree, probe)
    for relative in module.files:
        shutil.copyfile(ws.starter_dir / relative, probe / relative)
    env = {**os.environ, "PYTHONPATH": str(probe)}
    paths = [group.path for group in module.visible_groups]
    done = subprocess.run([sys.executable, "-m", "pytest", *paths, "--collect-only", "-q", "-c",
                           str(probe / "pytest.ini"), "--rootdir", str(probe), "-p", "no:cacheprovider"],
                          cwd=probe, env=env, capture_output=True, text=True, check=False)
    ids = [line.strip() for line in done.stdout.splitlines() if "::" in line]
    expected = {group.name: [i for i in ids if i.split("::")[0] == group.path] for group in module.visible_groups}
    empty = [group.path for group in module.visible_groups if not expected[group.name]]
    if empty:
        raise TitoError(f"collecting {', '.join(empty)} on the starter code found no tests:\n{done.stdout[-1500:]}")
    return expected


def _grade_course(ws: Workspace, module: ModuleInfo, args, target: Path) -> dict:
    from coursetools.grade import submission as course_grade

    submission = Path(args.submission) if args.submission else ws.package_root
    return course_grade.main(module=module.number, submission=str(submission), results=str(target),
                             dist=str(ws.root / "dist"), quiet=True)
