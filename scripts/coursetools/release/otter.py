"""Build a module's Otter-grader bundle (``dist/graders/NN_slug/otter.zip``) with ``otter generate``.

Otter grades exactly one ``.py`` per submission, so the submission is the student's module file
(``tensor.py`` for module 01). The bundle holds, built by otter-grader's own generator:

- one Otter test file per manifest group (``tests/NN_<group>.py``, exception-based format): one
  test case per pytest test of the group, with the group's points split evenly and Otter's
  ``hidden`` set for every group that is not visible, exactly as in the Gradescope bundle;
- ``files/tinytorch_bundle/``: the Gradescope bundle's grader.json, tree, reference copy and
  grader runtime. The test cases call ``tinytorch_grader.otter_bridge``, which grades the
  submitted file once with the same sandboxed runner and answers per test. They read the bundle
  from ``../source/files`` (never the copy Otter places in the submission folder, which a
  student folder of the same name would replace), so the overlay rule holds;
- ``requirements.txt``: the grader's exact pins, installed by Otter's setup.sh;
- ``tinytorch_grader/`` at the zip root (added after ``otter generate``): the plugin that keeps
  Otter from executing the submission in its kernel, imported from ``/autograder/source``;
- ``coursetools/otter_summary_plugin.py`` at the zip root: the plugin that keeps the public
  summary from calling a hidden group "All test cases passed!".

The zip is rewritten after generation with sorted entries, a fixed date and fixed modes, so the
same release gives the same bytes (as ``gradescope.zip``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

from coursetools.manifest import Course, Module
from coursetools.release.bundle import REQUIREMENTS

BUNDLE_FOLDER = "tinytorch_bundle"
"""The folder under Otter's files/ that holds our grader bundle."""
PLUGIN = "tinytorch_grader.otter_plugin.SkipSubmissionExecution"
"""Keeps Otter from executing the submission in its kernel (the sandbox grades it instead)."""
SUMMARY_PLUGIN = "coursetools.otter_summary_plugin.HiddenGroupsSummary"
"""Gives hidden groups a truthful public summary; shipped at the zip root as coursetools/ (Gradescope
imports it from /autograder/source, ``otter run`` from this installed toolchain)."""
SUMMARY_PLUGIN_FILE = Path(__file__).resolve().parents[1] / "otter_summary_plugin.py"
"""At the top of coursetools, not in release/: the dotted name above is written into every otter.zip."""
OTTER_CONFIG = {"show_hidden": True, "force_public_test_summary": True, "plugins": [PLUGIN, SUMMARY_PLUGIN]}
"""Otter gives every question one visibility: with show_hidden, scores show when grades are published
(our after_due_date groups' nearest match), and the always-visible "Public Tests" entry reports every
case of the visible groups (not hidden), so students see what the Gradescope bundle shows them."""
FIXED_DATE = (2020, 1, 1, 0, 0, 0)
"""The date of every entry, as in gradescope.zip."""
RUNTIME_ONLY = ("setup.sh", "run_autograder", "requirements.txt")
"""Gradescope-only files of the gradescope/ folder that the Otter bundle leaves out."""
TEST_FILE = '''"""Otter test for module {number}, group {group!r}: graded by the TinyTorch grader (see otter_bridge)."""

import os
import sys

from otter.test_files import test_case

OK_FORMAT = False

name = {name!r}
# No file-level points: each case carries its share, so the question is worth their sum.


def _outcome(nodeid):
    bundle = os.path.abspath(os.path.join("..", "source", "files", {folder!r}))
    if bundle not in sys.path:
        sys.path.insert(0, bundle)
    from tinytorch_grader.otter_bridge import outcome

    return outcome(bundle, nodeid)
'''
TEST_CASE = '''

@test_case(name={name!r}, points={points!r}, hidden={hidden!r})
def {function}():
    passed, feedback = _outcome({nodeid!r})
    assert passed, feedback
'''


class OtterBundleError(ValueError):
    """The module cannot be graded by Otter as it is declared."""


def build_otter_bundle(course: Course, module: Module, gradescope_dir: Path) -> Path:
    """Write ``otter.zip`` beside the Gradescope bundle (from its unzipped folder); returns its path."""
    from otter.generate import main as otter_generate

    if len(module.files) != 1:
        raise OtterBundleError(
            f"module {module.number} owns {len(module.files)} files ({', '.join(module.files)}), but Otter grades "
            "exactly one .py per submission; split the module or grade it with the Gradescope bundle only"
        )
    config = json.loads((Path(gradescope_dir) / "grader.json").read_text(encoding="utf-8"))
    archive = Path(gradescope_dir).parent / "otter.zip"
    with tempfile.TemporaryDirectory(prefix="otter-build-") as scratch:
        work = Path(scratch)
        write_test_files(config, work / "tests")
        shutil.copytree(gradescope_dir, work / BUNDLE_FOLDER,
                        ignore=shutil.ignore_patterns("__pycache__", *RUNTIME_ONLY))
        (work / "requirements.txt").write_text(REQUIREMENTS, encoding="utf-8")
        (work / "otter_config.json").write_text(json.dumps(OTTER_CONFIG), encoding="utf-8")
        with _inside(work):
            otter_generate(
                tests_dir="tests", output_path=str(archive), config="otter_config.json",
                requirements="requirements.txt", files=[BUNDLE_FOLDER], no_environment=True,
                python_version=course.python,
            )
    add_runtime_at_root(archive, Path(gradescope_dir) / "tinytorch_grader")
    make_reproducible(archive)
    return archive


def add_runtime_at_root(archive: Path, runtime: Path) -> None:
    """Append the grader runtime at the zip root, where Otter's runner imports the plugin from."""
    with zipfile.ZipFile(archive, "a", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(runtime.rglob("*.py")):
            zf.write(path, arcname=f"tinytorch_grader/{path.relative_to(runtime).as_posix()}")
        zf.writestr("coursetools/__init__.py", "")
        zf.write(SUMMARY_PLUGIN_FILE, arcname="coursetools/otter_summary_plugin.py")


def make_reproducible(archive: Path) -> None:
    """Rewrite the zip with sorted entries, a fixed date and normalised modes (executable kept)."""
    with zipfile.ZipFile(archive) as zf:
        entries = [(info, zf.read(info)) for info in zf.infolist() if not info.is_dir()]
    archive.unlink()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in sorted(entries, key=lambda entry: entry[0].filename):
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_DATE)
            mode = 0o755 if (info.external_attr >> 16) & 0o111 else 0o644
            fixed.external_attr = (0o100000 | mode) << 16
            fixed.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(fixed, data)


def write_test_files(config: dict, folder: Path) -> list[Path]:
    """One Otter test file per group, one case per expected pytest test; returns the files."""
    folder.mkdir(parents=True)
    number = config["module"]["number"]
    written = []
    for group in config["groups"]:
        expected = config["expected"][group["name"]]
        share = group["points"] / len(expected)
        text = TEST_FILE.format(number=number, group=group["name"], name=f"{number} {group['title']}",
                                folder=BUNDLE_FOLDER)
        for k, nodeid in enumerate(expected, start=1):
            text += TEST_CASE.format(
                name=nodeid.split("::", 1)[-1], points=share, hidden=group["visibility"] != "visible",
                function=f"case_{k}", nodeid=nodeid,
            )
        path = folder / f"{number}_{group['name']}.py"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


@contextmanager
def _inside(folder: Path):
    """otter generate resolves its paths against the working directory."""
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)
