"""What tito remembers between runs: per module, when it was started, last tested and completed.

Kept in ``progress.json`` in the workspace's state folder (git-ignored); losing it loses no work.
"""

from __future__ import annotations

import json
import time

from coursetools.tito.workspace import Workspace


def _path(ws: Workspace):
    return ws.state_dir / "progress.json"


def load(ws: Workspace) -> dict[str, dict]:
    """{module number: {"started": ..., "tested": ..., "passed": ..., "total": ..., "completed": ...}}."""
    try:
        return json.loads(_path(ws).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def record(ws: Workspace, number: str, **fields) -> dict:
    """Merge ``fields`` into the module's entry (with a UTC time stamp) and save."""
    progress = load(ws)
    entry = progress.setdefault(number, {})
    entry.update(fields)
    entry["updated"] = timestamp()
    _path(ws).parent.mkdir(parents=True, exist_ok=True)
    _path(ws).write_text(json.dumps(progress, indent=1, sort_keys=True), encoding="utf-8")
    return entry


def timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H-%M-%SZ", time.gmtime())
