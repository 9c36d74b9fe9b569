"""``tito data``: download or import the datasets, with a progress bar, then check their md5."""

from __future__ import annotations

from pathlib import Path

from coursetools import data as datasets
from coursetools.tito.errors import FAILED, OK, TitoError
from coursetools.tito.output import Output
from coursetools.tito.workspace import Workspace


def fetch(ws: Workspace, out: Output, args) -> int:
    try:
        target = datasets.data_folder(args.dest)
        source = Path(args.mirror) if args.mirror else datasets.default_mirror()
        steps = [] if args.check else datasets.plan(target, source)
        target.mkdir(parents=True, exist_ok=True)
        with out.quiet_stdout(), out.progress(len(steps), "datasets") as advance:
            for step in steps:
                step.run()
                advance(step.description)
        checks = datasets.verify(target, source)
    except datasets.DataError as error:
        raise TitoError(str(error)) from None
    out.table(f"datasets in {target}", ["file", "checksum"], [[name, state] for name, state in checks.items()],
              ["green" if state.startswith("ok") else "red" for state in checks.values()])
    ok = all(state.startswith("ok") for state in checks.values())
    out.say("every checksum matches" if ok else "some files are missing or damaged: delete them and run `tito data`")
    out.data({"folder": str(target), "source": str(source) if source else None,
              "checksums": checks, "ok": ok})
    return OK if ok else FAILED
