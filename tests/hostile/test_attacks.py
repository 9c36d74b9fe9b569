"""Hostile submissions against the real grader runtime: each must be held.

Held means: the score is no higher than the honest score of the same code without the attack,
results.json is valid Gradescope JSON, and the grader finished within its budget. Some attacks
also check what they aimed at (the bundle's tests unchanged, the hidden test not shown, no
network connection made, results.json unchanged after the run).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from .attacks import ATTACKS, Attack, submission
from .bundle import BUDGET, GRACE, HIDDEN_MARKER, buggy_tensor, check_results_schema, grade, tree_digest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    """The buggy base graded as it is: the score every attack must not beat."""
    graded = grade(tmp_path_factory.mktemp("honest"), {"tinytorch/core/tensor.py": buggy_tensor()})
    check_results_schema(graded.results)
    return graded


def test_the_honest_base_earns_part_of_the_points(honest):
    """An attack can only show it was held when there are points left to steal: the broken
    multiplication fails one visible test (10 points) and one hidden test (10 points)."""
    assert honest.score == 40 and honest.results["extra_data"]["max_score"] == 60


class Listener:
    """A TCP server on the loopback that records whether anyone connected."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.connected = False
        self.stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop:
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            self.connected = True
            connection.close()

    def close(self) -> None:
        self.stop = True
        self.thread.join(timeout=2)
        self.server.close()


def _limitation(attack: Attack):
    if attack.limitation:
        return [pytest.mark.xfail(reason=f"known limitation: {attack.limitation}", strict=True)]
    if attack.needs_root and os.geteuid() != 0:
        return [pytest.mark.xfail(reason=f"known limitation: {attack.needs_root}", strict=False)]
    return []


@pytest.mark.parametrize("attack", [pytest.param(a, id=a.name, marks=_limitation(a)) for a in ATTACKS])
def test_attack_is_held(attack: Attack, honest, tmp_path):
    root = tmp_path / "autograder"
    listener = Listener()
    drop = Path(tempfile.mkdtemp(prefix="hostile-drop-"))
    drop.chmod(0o1777)
    try:
        files = submission(attack, buggy_tensor(), results=str(root / "results" / "results.json"),
                           root=str(root), port=str(listener.port), drop=str(drop))
        graded = grade(root, files)
        finished = time.time()
        time.sleep(1.0)
        heartbeat = (drop / "alive").stat().st_mtime if (drop / "alive").exists() else None
    finally:
        listener.close()
        shutil.rmtree(drop, ignore_errors=True)
    assert heartbeat is None or heartbeat <= finished, "a process of the submission outlived the grader"
    check_results_schema(graded.results)
    assert graded.score <= honest.score + 1e-9, f"{attack.name} raised the score to {graded.score}:\n{graded.output}"
    assert graded.seconds < BUDGET + GRACE
    assert HIDDEN_MARKER not in graded.visible_text()
    assert not listener.connected, "the submission reached a server over the network"
    assert tree_digest(root / "source") == tree_digest_of_fresh_bundle(tmp_path)
    rewritten = json.loads((root / "results" / "results.json").read_text())
    assert rewritten == graded.results, "results.json changed after the grader finished"
    outputs = "\n".join(test["output"] for test in graded.results["tests"])
    assert attack.evidence in outputs, f"no sign that the {attack.name} defence fired:\n{outputs[:2000]}"


def tree_digest_of_fresh_bundle(tmp_path) -> str:
    from .bundle import write_bundle

    fresh = tmp_path / "fresh"
    write_bundle(fresh)
    return tree_digest(fresh)
