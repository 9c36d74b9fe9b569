"""Classroom 50 autograder of a TinyTorch module: the course's grader on the visible tests.

Classroom 50 runs this file once per submission, in the student's checkout, with the teacher's
sibling files beside it (``Path(__file__).parent``): ``bundle/`` is the module's grader bundle
with the visible groups only (Classroom 50 publishes these files on the classroom's Pages site,
so hidden tests and the reference solution are never here; they stay in the Gradescope bundle).
It grades a copy of the checkout exactly as Gradescope would (``python -m tinytorch_grader``) and
writes ``./result.json`` in Classroom 50's ``classroom50/result/v1`` shape: one entry per test,
``score``/``max-score`` summed (rounded to integers, as the contract types them; each test keeps
its exact share). Exit 0 when grading ran, whatever the score; non-zero only when the grader could
not produce results (Classroom 50 then records an error, not a score).
"""

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUNDLE = HERE / "bundle"
SKIPPED = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".tito", "result.json")


def ensure_requirements():
    """Install the grader's pinned requirements unless they are importable already."""
    try:
        import numpy, pytest, pytest_jsonreport, pytest_timeout  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-r", str(BUNDLE / "requirements.txt")],
                       check=True)


def grade(checkout):
    """results.json of the bundle's grader on a copy of the checkout."""
    with tempfile.TemporaryDirectory(prefix="classroom50-grade-") as scratch:
        root = Path(scratch)
        shutil.copytree(BUNDLE, root / "source")
        shutil.copytree(checkout, root / "submission", ignore=SKIPPED)
        (root / "results").mkdir()
        env = {**os.environ, "PYTHONPATH": str(root / "source")}
        subprocess.run([sys.executable, "-m", "tinytorch_grader", "--autograder-dir", str(root)],
                       cwd=root / "source", env=env, check=False)
        written = root / "results" / "results.json"
        if not written.is_file():
            return None
        return json.loads(written.read_text(encoding="utf-8"))


def to_result(results):
    tests = [{"test-name": t["name"], "passed": t["status"] == "passed", "score": round(t["score"], 4),
              "max-score": round(t["max_score"], 4), "message": t.get("output", "")[:2000]}
             for t in results["tests"] if "summary" not in t.get("tags", [])]
    env = os.environ
    return {
        "schema": "classroom50/result/v1",
        "classroom": env.get("CLASSROOM", ""),
        "assignment": env.get("ASSIGNMENT", ""),
        "submission": env.get("SUBMISSION_TAG", ""),
        "commit": env.get("COMMIT_URL", ""),
        "release": env.get("RELEASE_URL", ""),
        "review": env.get("REVIEW_URL") or env.get("COMMIT_URL", ""),
        "datetime": commit_time(),
        "score": int(round(sum(t["score"] for t in tests))),
        "max-score": int(round(sum(t["max-score"] for t in tests))),
        "tests": tests,
    }


def commit_time():
    """The graded commit's committer date in UTC (the contract's submission instant), else now."""
    done = subprocess.run(["git", "log", "-1", "--format=%ct"], capture_output=True, text=True, check=False)
    seconds = int(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None
    moment = (datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc) if seconds is not None
              else datetime.datetime.now(datetime.timezone.utc))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    ensure_requirements()
    results = grade(Path.cwd())
    if results is None or str(results.get("output", "")).startswith("**Not graded**"):
        print("::error::the TinyTorch grader produced no results; see the log above", file=sys.stderr)
        return 1
    Path("result.json").write_text(json.dumps(to_result(results), indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
