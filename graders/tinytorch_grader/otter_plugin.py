"""Otter plugin of the Otter bundle: the submission is never executed in Otter's kernel.

Otter runs the submitted ``.py`` in its Jupyter kernel, as the grader's user, before the tests.
Our test cases do not need that (they grade the file in the sandbox, ``otter_bridge``), and code
at the top level of a submission would otherwise run there unconfined and could rewrite Otter's
results. So before execution the plugin replaces every code cell with a comment.

Imported by Otter's runner from the bundle's root (``/autograder/source``, first on ``sys.path``
of ``run_otter.py``), never from the submission folder. Needs otter-grader; nothing else in the
grader runtime imports this module.
"""

from __future__ import annotations

from otter.plugins import AbstractOtterPlugin

PLACEHOLDER = "# The TinyTorch grader runs this file in its sandbox, not in this kernel.\n"


class SkipSubmissionExecution(AbstractOtterPlugin):
    """``before_execution``: empty the submission's code cells."""

    def before_execution(self, submission):
        for cell in getattr(submission, "cells", []):
            if cell.get("cell_type") == "code":
                cell["source"] = PLACEHOLDER
        return submission
