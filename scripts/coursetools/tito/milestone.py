"""``tito milestone list | run NN | status``: the historical milestones, on this repository's tinytorch.

The milestones live in the course repository (``milestones/``); tito reuses their runner's
listing (``milestones/run.py``) and reads the committed results (``milestones/results/``) and
this machine's (``milestones/results/local/``, shown as ``local/<name>``).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from coursetools.tito.errors import FAILED, OK, TitoError
from coursetools.tito.output import Output
from coursetools.tito.workspace import Workspace


def runner(ws: Workspace):
    """``milestones/run.py`` of this repository, imported by path (milestones/ is not a package)."""
    path = ws.root / "milestones" / "run.py"
    if not path.is_file():
        raise TitoError("the milestones are run from the course repository: "
                        f"`make milestone M=NN ARGS=\"--tinytorch {ws.package_root}\"` there runs one on your code")
    spec = importlib.util.spec_from_file_location("tinytorch_milestones_run", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def list_milestones(ws: Workspace, out: Output, args) -> int:
    found = runner(ws).milestones()
    scripts = runner(ws).scripts
    rows = [[number, folder.name, ", ".join(p.name for p in scripts(folder))] for number, folder in found.items()]
    out.table("milestones", ["NN", "milestone", "scripts"], rows)
    out.data({"milestones": [{"number": r[0], "folder": r[1], "scripts": r[2].split(", ")} for r in rows]})
    return OK


def status(ws: Workspace, out: Output, args) -> int:
    """Each milestone and its results (committed ones, then ``local/`` ones): headline metric, time."""
    results = ws.root / "milestones" / "results"
    entries = []
    for number, folder in runner(ws).milestones().items():
        recorded = sorted(results.glob(f"{number}_*.json")) + sorted((results / "local").glob(f"{number}_*.json"))
        for path in recorded:
            name = path.stem if path.parent == results else f"local/{path.stem}"
            entries.append({"milestone": number, "result": name, **_headline(_read(path) or {})})
        if not recorded:
            entries.append({"milestone": number, "result": "never run", "metric": "", "seconds": None, "finished": ""})
    rows = [[e["milestone"], e["result"], e["metric"], e["seconds"], e["finished"]] for e in entries]
    out.table("milestone results", ["NN", "result", "headline", "seconds", "finished"], rows)
    out.data({"milestones": entries})
    return OK


def run_one(ws: Workspace, out: Output, args) -> int:
    run = runner(ws)
    number = args.number.zfill(2)
    if number not in run.milestones():
        raise TitoError(f"no milestone {args.number!r}; milestones are {', '.join(run.milestones())}")
    extra = ["--tinytorch", str(ws.package_root), *(["--quick"] if args.quick else [])]
    with out.quiet_stdout():
        code = subprocess.run([sys.executable, str(ws.root / "milestones" / "run.py"), number, *extra]).returncode
    out.data({"milestone": number, "exit_code": code})
    return OK if code == 0 else FAILED


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _headline(result: dict) -> dict:
    """The first accuracy or loss figure of a result file, its wall time and when it finished."""
    metric = next((f"{k} = {v:.4g}" for k, v in result.items()
                   if isinstance(v, (int, float)) and ("accuracy" in k or "loss" in k)), "")
    seconds = result.get("wall_time_s")
    return {"metric": metric, "seconds": seconds, "finished": result.get("finished", "")}
