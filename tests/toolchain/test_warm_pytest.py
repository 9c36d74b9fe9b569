"""The warm pytest server behind the strip check: each run is a fresh session in its own tree."""

import os

import pytest

from coursetools.validate.warm_pytest import WarmPytest


def make_tree(root, value, test_body):
    (root / "tinytorch").mkdir(parents=True)
    (root / "tinytorch" / "__init__.py").write_text(f"VALUE = {value}\n")
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "test_it.py").write_text(f"import tinytorch\n\n\ndef test_it():\n{test_body}\n")
    return root


def run(server, tree, timeout=60, *extra):
    return server.run(["test_it.py", "-q", "-p", "no:cacheprovider", "-c", str(tree / "pytest.ini"), *extra], tree=tree,
                      env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}, log=tree / "log.txt", timeout=timeout)


def test_every_run_imports_its_own_trees_copy_and_reports_its_outcome(tmp_path):
    one = make_tree(tmp_path / "one", 1, "    assert tinytorch.VALUE == 1")
    two = make_tree(tmp_path / "two", 2, "    assert tinytorch.VALUE == 1")
    with WarmPytest() as server:
        assert run(server, one) == pytest.ExitCode.OK
        assert run(server, two) == pytest.ExitCode.TESTS_FAILED  # not the copy the first run imported
        assert "assert 2 == 1" in (two / "log.txt").read_text()
        assert run(server, one) == pytest.ExitCode.OK


def test_a_hang_is_stopped_and_the_server_serves_on(tmp_path):
    hang = make_tree(tmp_path / "hang", 1, "    while True:\n        pass")
    fine = make_tree(tmp_path / "fine", 1, "    assert tinytorch.VALUE == 1")
    with WarmPytest() as server:
        assert run(server, hang, timeout=2) == -9
        assert run(server, fine) == pytest.ExitCode.OK


def test_a_test_that_reads_its_stdin_finds_it_empty_not_the_servers_job_pipe(tmp_path):
    """With capturing off (-s) pytest leaves descriptor 0 alone: the child must have replaced it."""
    greedy = make_tree(tmp_path / "greedy", 1, "    import os\n    assert os.read(0, 100) == b''")
    fine = make_tree(tmp_path / "fine", 1, "    assert tinytorch.VALUE == 1")
    with WarmPytest() as server:
        assert run(server, greedy, 20, "-s") == pytest.ExitCode.OK
        assert run(server, fine) == pytest.ExitCode.OK
