"""Replay a released skeleton's workflow as GitHub Actions would run it, with the real actions.

The two autograding actions run as GitHub runs them: their ``dist/main.js`` at tag v1 (kept in
``../shared/tools/gha/``) under node, in the checkout, each ``with:`` input as
``INPUT_<NAME>``, the step's ``env:`` with ``${{ steps.X.outputs.Y }}`` filled in from the
``GITHUB_OUTPUT`` files earlier steps appended to. ``run:`` steps run under ``bash -eo pipefail``.
What cannot run offline is stood in for, and only that: ``actions/checkout`` is a ``git clone``
of the release (committed files only), ``actions/setup-python`` puts this venv's Python first on
PATH, the Install step (``pip install -e .``) becomes PYTHONPATH plus the ``tito`` console script
pip would write, and ``actions/upload-artifact`` copies the file it names.

Solutions of modules 01, 17 and 18 (whose group names have underscores, the case that broke the
old workflow) must get every visible point from the reporter; their skeletons 0.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GHA = ROOT.parent / "shared" / "tools" / "gha"
REPORTER = GHA / "autograding-grading-reporter-v1.js"
COMMAND_GRADER = GHA / "autograding-command-grader-v1.js"
NODE = shutil.which("node")
EXPRESSION = re.compile(r"\$\{\{\s*steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)\s*\}\}")
MODULES = ("01", "17", "18")

pytestmark = [pytest.mark.skipif(NODE is None or not REPORTER.is_file(),
                                 reason="needs node and ../shared/tools/gha/ (the real v1 actions)"),
              pytest.mark.timeout(900)]  # releases 17 and 18, grades six repositories


class Replay:
    """One job's replay: the workspace, PATH and the outputs each step id wrote."""

    def __init__(self, repo: Path, scratch: Path):
        self.repo, self.scratch = repo, scratch
        self.workspace = scratch / "workspace"
        self.bin = scratch / "bin"
        self.bin.mkdir(parents=True)
        self.artifacts = scratch / "artifacts"
        self.summary = scratch / "step_summary.md"
        self.summary.touch()
        self.outputs: dict[str, dict[str, str]] = {}
        self.path = os.environ["PATH"]
        self.pythonpath = ""
        self.logs: list[tuple[str, int, str]] = []
        self.failed = False

    def run_job(self, job: dict) -> None:
        for index, step in enumerate(job["steps"]):
            condition = str(step.get("if", "success()"))
            if self.failed and "always()" not in condition:
                continue
            returncode, log = self.run_step(step, index)
            self.logs.append((step.get("name", step.get("uses", "")), returncode, log))
            self.failed = self.failed or returncode != 0

    def run_step(self, step: dict, index: int) -> tuple[int, str]:
        uses = step.get("uses", "")
        if uses.startswith("actions/checkout@"):
            done = subprocess.run(["git", "clone", "-q", str(self.repo), str(self.workspace)],
                                  capture_output=True, text=True)
            return done.returncode, done.stderr
        if uses.startswith("actions/setup-python@"):
            (self.bin / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
            (self.bin / "python").chmod(0o755)
            self.path = f"{self.bin}:{self.path}"
            return 0, ""
        if uses.startswith("actions/upload-artifact@"):
            found = self.workspace / step["with"]["path"]
            if found.is_file():
                self.artifacts.mkdir(exist_ok=True)
                shutil.copyfile(found, self.artifacts / found.name)
            return 0 if found.is_file() or step["with"].get("if-no-files-found") != "error" else 1, ""
        if uses == "education/autograding-grading-reporter@v1":
            return self.node(REPORTER, step, index)
        if uses == "education/autograding-command-grader@v1":
            return self.node(COMMAND_GRADER, step, index)
        if step.get("name") == "Install":
            assert step["run"].strip() == 'python -m pip install -e ".[test]"', "the Install step changed: update the replay"
            (self.bin / "tito").write_text(
                "#!/bin/sh\nexec python -c 'import sys; from coursetools.tito import main; sys.exit(main(sys.argv[1:]))' \"$@\"\n")
            (self.bin / "tito").chmod(0o755)
            self.pythonpath = f"{self.workspace}:{self.workspace / 'tools'}"
            return 0, ""
        if "run" in step:
            return self.bash(step, index)
        raise AssertionError(f"the replay cannot run step {step!r}; teach it this action")

    def env(self, step: dict, index: int) -> dict:
        output = self.scratch / f"output_{index}"
        output.touch()
        env = {"PATH": self.path, "HOME": str(self.scratch), "GITHUB_OUTPUT": str(output),
               "GITHUB_STEP_SUMMARY": str(self.summary), "GITHUB_WORKSPACE": str(self.workspace), "CI": "true"}
        if self.pythonpath:
            env["PYTHONPATH"] = self.pythonpath
        for name, value in (step.get("env") or {}).items():
            env[name] = EXPRESSION.sub(lambda m: self.outputs.get(m[1], {}).get(m[2], ""), str(value))
        for name, value in (step.get("with") or {}).items():
            env[f"INPUT_{name.replace(' ', '_').upper()}"] = str(value)
        return env

    def bash(self, step: dict, index: int) -> tuple[int, str]:
        env = self.env(step, index)
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                              cwd=self.workspace, env=env, capture_output=True, text=True, timeout=600)
        self.collect(step, env)
        return done.returncode, done.stdout + done.stderr

    def node(self, script: Path, step: dict, index: int) -> tuple[int, str]:
        env = self.env(step, index)
        done = subprocess.run([NODE, str(script)], cwd=self.workspace, env=env, capture_output=True, text=True,
                              timeout=300)
        self.collect(step, env)
        return done.returncode, done.stdout + done.stderr

    def collect(self, step: dict, env: dict) -> None:
        """Parse GITHUB_OUTPUT: ``name=value`` lines and ``name<<DELIM ... DELIM`` blocks."""
        if "id" not in step:
            return
        lines = Path(env["GITHUB_OUTPUT"]).read_text().splitlines()
        values, k = {}, 0
        while k < len(lines):
            line = lines[k]
            if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
                name, delimiter = line.split("<<", 1)
                end = lines.index(delimiter, k + 1)
                values[name] = "\n".join(lines[k + 1:end])
                k = end + 1
                continue
            if "=" in line:
                name, value = line.split("=", 1)
                values[name] = value
            k += 1
        self.outputs[step["id"]] = values


def reporter_totals(log: str) -> dict[str, tuple[float, float]]:
    """{runner: (points, max)} from the reporter's 'Total points for R: X/Y' lines."""
    found = re.findall(r"Total points for (\w+): ([\d.]+)/([\d.]+)", re.sub(r"\x1b\[[0-9;]*m", "", log))
    return {runner: (float(points), float(top)) for runner, points, top in found}


@pytest.fixture(scope="module")
def releases(released_01, tmp_path_factory):
    """release(number) -> {"skeleton", "solution"}: 01 from the shared fixture, others built once on demand."""
    built = {"01": released_01}
    dist = tmp_path_factory.mktemp("replay-dist")

    def release(number: str) -> dict:
        if number not in built:
            done = subprocess.run([sys.executable, "-m", "coursetools", "release", "--module", number, "--dist",
                                   str(dist)], cwd=ROOT, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr[-3000:]
            name = next(p.name for p in (dist / "skeletons").iterdir() if p.name.startswith(number + "_"))
            built[number] = {"skeleton": dist / "skeletons" / name, "solution": dist / "solutions" / name}
        return built[number]

    return release


def replay(repo: Path, scratch: Path) -> Replay:
    workflow = yaml.safe_load((repo / ".github" / "workflows" / "classroom.yml").read_text())
    (job,) = workflow["jobs"].values()
    run = Replay(repo, scratch)
    run.run_job(job)
    return run


@pytest.mark.parametrize("number", MODULES)
def test_the_solution_gets_every_visible_point_from_the_real_reporter(releases, course, number, tmp_path):
    run = replay(releases(number)["solution"], tmp_path)
    module = course.module(number)
    name, returncode, log = run.logs[-1]
    assert name == "Autograding Reporter" and returncode == 0, log[-3000:]
    visible = [g for g in module.groups if not g.hidden]
    totals = reporter_totals(log)
    assert set(totals) == {re.sub(r"[^A-Za-z0-9]", "", g.name) for g in visible}, log[-3000:]
    assert all(points == top for points, top in totals.values()), totals
    assert sum(top for _, top in totals.values()) == pytest.approx(sum(g.points for g in visible))
    assert all(code == 0 for _, code, _ in run.logs), [(n, c, l[-1500:]) for n, c, l in run.logs if c]
    results = json.loads((run.artifacts / "results.json").read_text())
    assert results["score"] == pytest.approx(sum(g.points for g in visible))
    summary = run.summary.read_text()
    assert f"**{sum(g.points for g in visible):g} / {sum(g.points for g in visible):g}**" in summary


@pytest.mark.parametrize("number", MODULES)
def test_the_skeleton_gets_zero_and_a_red_job(releases, course, number, tmp_path):
    run = replay(releases(number)["skeleton"], tmp_path)
    name, returncode, log = run.logs[-1]
    assert name == "Autograding Reporter" and returncode != 0 and "Some tests failed." in log, log[-3000:]
    totals = reporter_totals(log)
    assert totals and all(points == 0 for points, _ in totals.values()), totals
    assert (run.artifacts / "results.json").is_file(), "results.json is uploaded even when tests fail"
    visible = sum(g.points for g in course.module(number).groups if not g.hidden)
    assert f"**0 / {visible:g}**" in run.summary.read_text()


def test_what_the_grade_step_hands_the_reporter_has_the_command_graders_shape(tmp_path):
    """The real command grader's output for a passing command, next to ours for a passing group."""
    (tmp_path / "out").touch()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GITHUB_OUTPUT": str(tmp_path / "out"),
           "INPUT_TEST-NAME": "probe", "INPUT_COMMAND": "true", "INPUT_TIMEOUT": "1", "INPUT_MAX-SCORE": "3"}
    done = subprocess.run([NODE, str(COMMAND_GRADER)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "out").read_text().splitlines()
    encoded = text[text.index(next(l for l in text if l.startswith("result<<"))) + 1]
    theirs = json.loads(base64.b64decode(encoded))
    sys.path.insert(0, str(ROOT / "skeletons" / "workflow"))
    try:
        import grade_summary
    finally:
        sys.path.pop(0)
    ours = grade_summary.reporter_payload({"name": "g", "title": "G", "points": 3},
                                          [{"name": "t", "status": "passed", "score": 3, "output": ""}], None)
    assert set(ours) == set(theirs) and ours["status"] == theirs["status"] == "pass"
    assert set(theirs["tests"][0]) <= set(ours["tests"][0]) <= set(theirs["tests"][0]) | {"message"}


def test_missing_results_are_reported_as_ungraded_not_zero(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "skeletons" / "workflow"))
    try:
        import grade_summary
    finally:
        sys.path.pop(0)
    monkeypatch.setattr(grade_summary, "GROUPS", [{"name": "g", "runner": "g", "title": "G", "points": 3}])
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))
    assert grade_summary.main(["-", str(tmp_path / "missing.json")]) == 1
    assert "**Ungraded**" in (tmp_path / "summary").read_text()
    payload = json.loads(base64.b64decode((tmp_path / "out").read_text().split("=", 1)[1]))
    assert payload["status"] == "error" and "no results" in payload["tests"][0]["message"]
