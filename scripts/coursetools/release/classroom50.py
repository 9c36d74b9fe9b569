"""The Classroom 50 autograder entry of a module: ``dist/classroom50/NN_slug/``.

Classroom 50 (the successor of GitHub Classroom kept in a course's ``classroom50`` config
repository) grades a submission by running ``CLASSROOM/autograders/ASSIGNMENT/autograder.py`` in
the student's checkout, with that folder's other files beside it, and reads ``./result.json``
(schema ``classroom50/result/v1``). The release writes that folder: copy it to
``CLASSROOM/autograders/<assignment slug>/`` and give the assignment the runtime in
``runtime.json`` (the course's Python; the grader's numpy pin has no wheels for newer ones).

Classroom 50 publishes the autograder folders on the classroom's GitHub Pages site, so the entry
holds only what students may see: the grader runtime, the visible groups' tests and expected ids,
and earlier modules solved (as in the skeleton). Hidden tests and the reference copy stay in the
Gradescope bundle; the leak check that guards the skeleton guards this folder too.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from coursetools.manifest import Course, Module
from coursetools.release.leaks import assert_no_leaks

TEMPLATE = Path(__file__).resolve().parents[3] / "skeletons" / "classroom50" / "autograder.py"
LEFT_OUT = ("reference_copy", "__pycache__", "setup.sh", "run_autograder")


def build_classroom50_entry(course: Course, module: Module, gradescope_dir: Path, dist: Path) -> Path:
    """Write dist/classroom50/NN_slug/ (autograder.py, bundle/, runtime.json); returns the folder."""
    entry = Path(dist) / "classroom50" / module.dirname
    if entry.exists():
        shutil.rmtree(entry)
    bundle = entry / "bundle"
    shutil.copytree(gradescope_dir, bundle, ignore=shutil.ignore_patterns(*LEFT_OUT))
    for group in module.groups:
        if group.hidden:
            (bundle / "tree" / group.path).unlink(missing_ok=True)
    _remove_empty_folders(bundle / "tree")
    config = json.loads((bundle / "grader.json").read_text(encoding="utf-8"))
    config["groups"] = [g for g in config["groups"] if g["visibility"] == "visible"]
    config["expected"] = {g["name"]: config["expected"][g["name"]] for g in config["groups"]}
    (bundle / "grader.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    shutil.copyfile(TEMPLATE, entry / "autograder.py")
    (entry / "runtime.json").write_text(json.dumps({"python": course.python}, indent=1) + "\n", encoding="utf-8")
    assert_no_leaks(entry, course, module)
    return entry


def _remove_empty_folders(root: Path) -> None:
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(folder.iterdir()):
            folder.rmdir()
