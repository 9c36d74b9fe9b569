"""``make milestone M=NN [ARGS=...]``: run every script of a milestone folder, in order.

    python milestones/run.py            # list the milestones
    python milestones/run.py 04 --quick # run milestone 04's scripts with --quick
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def milestones() -> dict[str, Path]:
    return {folder.name[:2]: folder for folder in sorted(HERE.iterdir()) if folder.is_dir() and folder.name[:2].isdigit()}


def scripts(folder: Path) -> list[Path]:
    return sorted(path for path in folder.glob("*.py") if not path.name.startswith("_"))


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
    for script in scripts(found[number]):
        print(f"== {found[number].name}/{script.name} {' '.join(argv[1:])}", flush=True)
        code = subprocess.run([sys.executable, str(script), *argv[1:]]).returncode
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
