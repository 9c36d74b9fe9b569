"""Many short pytest runs forked from one warm process: the strip check's region probes.

A probe is one pytest run over a module's tests with one region stubbed; started as a fresh Python,
half of its second went to importing NumPy and pytest. ``WarmPytest`` starts a small server
(``python -m coursetools.validate.warm_pytest``) that imports them once and forks a child per run.
The server is single-threaded and has never imported ``tinytorch``, so every child imports its own
tree's copy, exactly as a fresh process would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

SHARED_IMPORTS = ("numpy", "pytest", "pytest_timeout")
"""What the server imports before its first fork: the part every probe has in common."""
ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""The server's BLAS starts no thread pool (NumPy's import would), so its forks copy a single-threaded
process; the grader runs the same tests with one BLAS thread too."""


class WarmPytest:
    """The server, from the caller's side: ``run`` one pytest session at a time; ``close`` ends it."""

    def __init__(self) -> None:
        scripts = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, **ONE_BLAS_THREAD,
               "PYTHONPATH": os.pathsep.join([scripts, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        self.process = subprocess.Popen([sys.executable, "-m", "coursetools.validate.warm_pytest"], cwd=scripts, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, args: list[str], *, tree: Path, env: dict[str, str], log: Path, timeout: float) -> int:
        """``pytest args`` in ``tree`` with ``env``; its exit code (-9 when stopped after ``timeout`` s),
        everything it printed in ``log``."""
        job = {"args": args, "tree": str(tree), "env": env, "log": str(log), "timeout": timeout}
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"the warm pytest server stopped (exit code {self.process.wait()})")
        return int(answer)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)

    def __enter__(self) -> "WarmPytest":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def serve() -> None:
    """Read one job per line from stdin, fork, answer the child's exit code on stdout."""
    for name in SHARED_IMPORTS:
        __import__(name)
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(job)
        print(_wait(pid, job["timeout"]), flush=True)


def _wait(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return -9
        time.sleep(0.005)


def _child(job: dict) -> None:
    """In the fork: the job's folder, environment and path, output to the log, never back."""
    code = 70
    try:
        log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # the server's stdin carries the jobs
        assert "tinytorch" not in sys.modules, "the server imported tinytorch: a probe would test that copy"
        os.environ.clear()
        os.environ.update(job["env"])
        os.chdir(job["tree"])
        sys.path[:0] = [job["tree"]]
        import pytest

        code = int(pytest.main(job["args"]))
    except BaseException:  # noqa: BLE001 - whatever happens, the child ends here with a code
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    serve()
