"""How the test process starts a server: a JSON spec from the grader, turned into a ``Launch``.

The spec names the tree the server imports from (the submission's, or the reference copy), the
grader runtime folder, the Python to run, the sandbox uid and the limits. The process runs
``python -m tinytorch_grader.remote.server FD`` under ``tinytorch_grader.sandbox`` (its own uid,
namespaces, limits) with nothing inherited but the socket.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from tinytorch_grader import sandbox

if TYPE_CHECKING:  # the grader writes specs without loading the wire codec (and NumPy) it never uses
    from tinytorch_grader.remote.connection import Launch

STUDENT_ENV = "TINYTORCH_REMOTE_STUDENT"
REFERENCE_ENV = "TINYTORCH_REMOTE_REFERENCE"
"""The environment variables through which the grader hands the test process its servers' specs."""


def make_spec(*, python: str, tree: str, lib: str, site: list, home: str, uid: int | None,
              limits: dict, shared: list | None = None, cpu_seconds: float | None = None) -> str:
    """``shared``: folders both sides read and write at the same path (the tests' ``tmp_path``);
    ``cpu_seconds``: CPU time of one server (no more than the test process itself may use)."""
    return json.dumps({"python": python, "tree": tree, "lib": lib, "site": site, "home": home, "uid": uid,
                       "limits": limits, "shared": shared or [], "cpu_seconds": cpu_seconds})


def uid_of(spec: str) -> int | None:
    return json.loads(spec).get("uid")


def from_spec(text: str) -> Launch:
    from tinytorch_grader.remote.connection import Launch

    spec = json.loads(text)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": spec["home"],
        "TMPDIR": os.path.join(spec["home"], "tmp"),
        "PYTHONPATH": os.pathsep.join([spec["tree"], spec["lib"], *spec["site"]]),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    if os.environ.get("LD_LIBRARY_PATH"):
        env["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH"]
    command = [spec["python"], "-s", "-B", "-m", "tinytorch_grader.remote.server", "{fd}"]
    limits = sandbox.Limits.from_config(spec["limits"])
    uid = spec["uid"]

    def spawn(argv, *, cwd, env, pass_fds):
        process, isolation = sandbox.spawn(
            argv, cwd=Path(cwd), env=env, limits=limits, uid=uid, pass_fds=pass_fds, cpu_seconds=spec.get("cpu_seconds"),
            read_only=[Path(p) for p in [spec["tree"], spec["lib"], *spec["site"]]],
            read_write=[Path(p) for p in [spec["home"], *spec["shared"]]])
        ISOLATION.update(isolation.to_dict())
        return process

    return Launch(command=command, env=env, cwd=spec["tree"], uid=uid, spawn=spawn)


ISOLATION: dict = {}
"""What the last server started had of the sandbox (``sandbox.Isolation.to_dict()``), for the report."""
