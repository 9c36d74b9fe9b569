"""Fixtures for toolchain tests: one release of module 01 per session, shared by the tests."""

from pathlib import Path

import pytest

from coursetools.manifest import load_course
from coursetools.release.pipeline import release_module

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def course():
    return load_course(ROOT)


@pytest.fixture(scope="session")
def released_01(course, tmp_path_factory):
    """dist/ with module 01 released: {'skeleton', 'solution', 'gradescope', 'gradescope_dir'} paths."""
    dist = tmp_path_factory.mktemp("dist")
    return release_module(course, course.module("01"), dist)
