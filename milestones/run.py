"""``make milestone M=NN [ARGS=...]``: run every script of a milestone folder, in order.

    python milestones/run.py            # list the milestones
    python milestones/run.py 04 --quick # run milestone 04's scripts with --quick

Every script runs even when an earlier one fails or lacks its dataset; the summary at the end
names each outcome, and the exit code is the first failure's (0 when all reached their targets).
Results go to milestones/results/local/ unless ``--record`` is passed on to the scripts.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA_MISSING = 3
"""The scripts' exit code for a missing dataset (common.DATA_MISSING)."""


def milestones() -> dict[str, Path]:
    return {folder.name[:2]: folder for folder in sorted(HERE.iterdir()) if folder.is_dir() and folder.name[:2].isdigit()}


def scripts(folder: Path) -> list[Path]:
    return sorted(path for path in folder.glob("*.py") if not path.name.startswith("_"))


def outcome(code: int) -> str:
    if code == 0:
        return "done"
    if code == DATA_MISSING:
        return "skipped: dataset missing (run `make data`, or `tito data`)"
    return f"failed (exit code {code})"


def main(argv: list[str]) -> int:
    found = milestones()
    if not argv or argv[0] in ("-h", "--help", "list"):
        for number, folder in found.items():
            print(f"{number}  {folder.name:28} {', '.join(p.name for p in scripts(folder))}")
        return 0
    number = argv[0].zfill(2)
    if number not in found:
        print(f"no milestone {argv[0]!r}; milestones are {', '.join(found)}", file=sys.stderr)
        return 2
    codes = {}
    for script in scripts(found[number]):
        print(f"== {found[number].name}/{script.name} {' '.join(argv[1:])}", flush=True)
        codes[script.name] = subprocess.run([sys.executable, str(script), *argv[1:]]).returncode
    if len(codes) > 1 or any(codes.values()):
        print(f"== {found[number].name}: " + "; ".join(f"{name} {outcome(code)}" for name, code in codes.items()))
    return next((code for code in codes.values() if code), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
