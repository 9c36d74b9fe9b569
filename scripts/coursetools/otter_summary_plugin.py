"""Otter plugin shipped at the root of ``otter.zip``: the public summary tells the truth about hidden groups.

Otter's always-visible "Public Tests" entry joins every test file's public-only summary; a file
whose cases are all hidden has no public case, so Otter calls it "All test cases passed!" even
when the student lost every point in it. After grading, this plugin gives such files a public
summary that says what is known before the due date: the group is hidden, how many cases and
points it has, and when its results are shown. Their own entries (shown when grades are
published) keep Otter's real summary.

Not imported by the toolchain itself: ``coursetools.release.otter`` names the class in
``otter_config.json`` and ships this file at the zip root (``coursetools/``), where Otter imports it
on Gradescope (Python 3.10); ``otter run`` imports it from the installed toolchain.
"""

from otter.plugins import AbstractOtterPlugin
from otter.test_files.exception_test import ExceptionTestFile


class HiddenGroupTestFile(ExceptionTestFile):
    """A test file of hidden cases only: its public summary states that, not a pass."""

    def summary(self, public_only=False):
        if not public_only:
            return super().summary(public_only=False)
        cases = len(self.test_cases)
        return (f"{self.name}: hidden tests ({cases} case{'s' if cases != 1 else ''}, {self.possible:g} points), "
                "graded now; their results are shown after the due date.")


class HiddenGroupsSummary(AbstractOtterPlugin):
    """``after_grading``: hidden-only test files get the truthful public summary."""

    def after_grading(self, results):
        for test_file in results.results.values():
            hidden_only = test_file.test_cases and all(case.hidden for case in test_file.test_cases)
            if hidden_only and isinstance(test_file, ExceptionTestFile):
                test_file.__class__ = HiddenGroupTestFile
