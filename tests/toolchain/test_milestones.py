"""Every milestone's --quick mode runs on real data and shows learning well above chance.

The quick modes read the datasets through module 08's loaders; `make data` puts them in place
(CI runs it first). Without the data these tests are skipped with the command that fixes it.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinytorch.core.dataloader import data_root

ROOT = Path(__file__).resolve().parents[2]
NEEDS = {
    "01": [], "02": [],
    "03": ["digits.csv.gz", "mnist/t10k-images-idx3-ubyte.gz"],
    "04": ["digits.csv.gz", "cifar-10-batches-py/test_batch"],
    "05": ["tinyshakespeare.txt"],
    "06": ["digits.csv.gz", "mnist/t10k-images-idx3-ubyte.gz"],
}


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("number", sorted(NEEDS))
def test_milestone_quick_mode_learns(number):
    missing = [name for name in NEEDS[number] if not (data_root() / name).exists()]
    if missing:
        pytest.skip(f"datasets {missing} not in {data_root()}; run `make data` first")
    result = subprocess.run([sys.executable, str(ROOT / "milestones" / "run.py"), number, "--quick", "--no-save"],
                            capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
