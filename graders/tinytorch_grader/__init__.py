"""The grader runtime that ships inside every TinyTorch grader bundle.

It runs on Gradescope's image (Python 3.10) with NumPy, pytest, pytest-json-report and
pytest-timeout only. ``python -m tinytorch_grader`` grades ``/autograder/submission`` and
writes ``/autograder/results/results.json``.
"""
