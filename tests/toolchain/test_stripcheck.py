"""The strip check on every released module: solution full marks, skeleton zero, every region caught."""

import pytest

from coursetools.manifest import load_course
from coursetools.validate.stripcheck import CAUGHT, UNCAUGHT, check_module, probe_regions

COURSE = load_course()
RELEASED = [m.number for m in COURSE.released()
            if all((COURSE.root / "reference" / f).is_file() for f in m.files)]


@pytest.mark.slow
@pytest.mark.timeout(900)  # grades the module once per region: minutes on a loaded 2-core machine
@pytest.mark.parametrize("number", RELEASED)
def test_strip_check_holds(course, number, tmp_path):
    report = check_module(course, course.module(number), tmp_path, workers=1)
    assert report.ok, report.describe()


TOY_MANIFEST = '''
[course]
name = "Toy"
term = "Test"

[[module]]
number = "01"
slug = "toy"
title = "Toy"
package = "tinytorch.core.toy"
files = ["tinytorch/core/toy.py"]
depends = []
status = "released"
budget = 60

  [[module.group]]
  name = "double"
  title = "Doubling"
  points = 10
  visibility = "visible"
  timeout = 10
'''
TOY_MODULE = '''
def double(x):
    #% solution
    return 2 * x
    #% endsolution


def triple(x):
    #% solution
    return 3 * x
    #% endsolution
'''


def test_a_region_no_test_exercises_is_reported(tmp_path):
    for relative, text in {
        "reference/course.toml": TOY_MANIFEST,
        "reference/tinytorch/__init__.py": "",
        "reference/tinytorch/core/__init__.py": "",
        "reference/tinytorch/core/toy.py": TOY_MODULE,
        "tests/01_toy/test_double.py": "from tinytorch.core.toy import double\n\n\ndef test_double():\n    assert double(2) == 4\n",
        "conftest.py": "",
    }.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    toy = load_course(tmp_path)
    outcomes = probe_regions(toy, toy.module("01"), tmp_path / "probes", workers=2)
    assert outcomes == {"double": CAUGHT, "triple": UNCAUGHT}
