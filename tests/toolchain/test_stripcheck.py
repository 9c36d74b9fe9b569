"""The strip check on every released module: solution full marks, skeleton zero, every region caught."""

import pytest

from coursetools.manifest import load_course
from coursetools.stripcheck import check_module

COURSE = load_course()
RELEASED = [m.number for m in COURSE.released()
            if all((COURSE.root / "reference" / f).is_file() for f in m.files)]


@pytest.mark.slow
@pytest.mark.parametrize("number", RELEASED)
def test_strip_check_holds(course, number, tmp_path):
    report = check_module(course, course.module(number), tmp_path, workers=1)
    assert report.ok, report.describe()
