"""Hostile submissions against the real grader runtime: each must be held.

Held means, for every attack: the score is no higher than the honest score of the same code
without the attack (and its target test's score no higher than the honest one), results.json is
strict JSON in Gradescope's schema, the grader finished within its budget, no hidden test text
(the bundle's, or the instructor checkout's) shows in anything visible, the leaderboard holds no
forged or non-finite value, the trusted processes stayed under PARENT_MEMORY_MIB, and nothing of
the submission is left: no process, no file in the shared temp folders, no SysV IPC object, no
connection made, the bundle's tree unchanged, results.json unchanged after the grader finished.
A score below the honest one must come with the attack's evidence (the message saying why).

Attacks that share a ``run`` are graded once, in one submission; with pytest-xdist the first
worker to need a run grades it and the others read its record (a file lock in the shared temp).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import stat
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from .attacks import ATTACKS, STASH_WRITER, Attack, fill, submission
from .bundle import (BUDGET, GRACE, HIDDEN_MARKER, PARENT_MEMORY_MIB, ROOT, Graded, check_results_schema, grade,
                     grade_zip, honest_tensor, reference_tensor, tree_digest, write_bundle)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
RUNS = {}
for _attack in ATTACKS:
    RUNS.setdefault(_attack.run_key, []).append(_attack)
CHECKOUT_HIDDEN_NAMES = sorted(line.split("(")[0][4:] for path in (ROOT / "hidden_tests" / "01_tensor").glob("*.py")
                               for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("def test_"))
"""Names of the real hidden tests of module 01 in the instructor's checkout: never visible."""
HONEST_SCORE, MAX_SCORE = 50.0, 170.0
"""Honest base, 10 points a test: 4 of the 15 visible tests (3 basics and the speed test), 1 of the 2 hidden."""
FORGED_RATIO_FLOOR = 0.01
"""A Tensor add cannot be 100 times faster than the NumPy add it wraps: a lower ratio is forged."""


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory) -> Path:
    """One folder for this test session, the same in every xdist worker."""
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    base = tmp_path_factory.getbasetemp()
    folder = base.parent / f"hostile-{run_id}" if run_id else base / "hostile"
    folder.mkdir(exist_ok=True)
    return folder


def once(shared_dir: Path, key: str, make) -> dict:
    """``make()``'s record for ``key``, computed by the first worker that asks and read by the rest."""
    with open(shared_dir / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = shared_dir / f"{key}.json"
        if record.exists():
            return json.loads(record.read_text())
        data = make(shared_dir / key)
        record.write_text(json.dumps(data))
        return data


@pytest.fixture(scope="session")
def honest(shared_dir) -> dict:
    """The honest base graded as it is: the score every attack must not beat."""
    return once(shared_dir, "honest", lambda root: observe(grade(root, {"tinytorch/core/tensor.py": honest_tensor()})))


def test_the_honest_base_earns_part_of_the_points(honest):
    """An attack can only show it was held when there are points left to steal."""
    check_results_schema(honest["results"])
    assert (honest["results"]["score"], honest["results"]["extra_data"]["max_score"]) == (HONEST_SCORE, MAX_SCORE)
    scores = {t["name"].split("› ")[-1]: t["score"] for t in honest["results"]["tests"][1:]}
    assert [name for name, score in scores.items() if score == 0] == [
        "test_multiply", "test_subtract", "test_divide", "test_mean", "test_matmul", "test_negate", "test_power",
        "test_exp", "test_transpose", "test_max_item", "test_reshape_shape", "test_scale_then_sum"]
    assert honest["leaderboard"]["add_time_ratio"] > FORGED_RATIO_FLOOR
    assert honest["leftovers"] == [] and honest["peak_mib"] < PARENT_MEMORY_MIB


def observe(graded: Graded, **extra) -> dict:
    """The JSON-able record of one grading that the checks read."""
    return {"results": graded.results, "seconds": graded.seconds, "output": graded.output, "peak_mib": graded.peak_mib,
            "leftovers": graded.leftovers, "leaderboard": graded.leaderboard(), "visible": graded.visible_text(),
            "root": graded.root, **extra}


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


class Scene:
    """What an attack may look for, set up around one run: a listener, a heartbeat drop folder, a
    world-readable peer submission, a world-writable shared folder, stash names and keys."""

    def __init__(self, root: Path) -> None:
        self.listener = Listener()
        self.drop = Path(tempfile.mkdtemp(prefix="hostile-drop-"))
        self.peer = Path(tempfile.mkdtemp(prefix="hostile-peer-"))
        self.shared = Path(tempfile.mkdtemp(prefix="hostile-shared-"))
        for folder, mode in ((self.drop, 0o1777), (self.peer, 0o755), (self.shared, 0o1777)):
            folder.chmod(mode)
        peer_file = self.peer / "tinytorch" / "core" / "tensor.py"
        peer_file.parent.mkdir(parents=True)
        peer_file.write_text(reference_tensor())
        for folder in (peer_file.parent, peer_file.parent.parent):
            folder.chmod(0o755)
        peer_file.chmod(0o644)
        self.tag = uuid.uuid4().hex[:10]
        key = 0x74740000 + int(self.tag[:4], 16)
        self.values = {"results": str(root / "results" / "results.json"), "root": str(root), "port": str(self.listener.port),
                       "drop": str(self.drop), "checkout": str(ROOT), "peer": str(self.peer), "shared": str(self.shared),
                       "tag": self.tag, "stash_key": str(key), "shm_key": str(key + 1), "ids": json.dumps(all_ids())}

    def close(self) -> None:
        self.listener.close()
        for folder in (self.drop, self.peer, self.shared):
            shutil.rmtree(folder, ignore_errors=True)


def all_ids() -> list[str]:
    from .bundle import expected_ids

    return [nodeid for ids in expected_ids().values() for nodeid in ids]


def run_attacks(attacks: list[Attack], root: Path) -> dict:
    """Grade one run (one submission holding every attack of it) and record everything the checks need."""
    scene = Scene(root)
    try:
        first = attacks[0]
        if first.layout == "stash":
            return run_stash(attacks, root, scene)
        if first.layout in ("zip_links", "zip_bomb"):
            return observe(grade_zip(root, make_zip(first, root, scene)), connected=scene.listener.connected)
        base = {"honest": honest_tensor(), "reference": reference_tensor()}[first.base]
        files = submission(attacks, base, **scene.values) if first.layout == "files" else {}
        links = {path: fill(target, scene.values) for a in attacks for path, target in a.links.items()}
        graded = grade(root / "autograder", files, links)
        finished = time.time()
        if any(a.daemon for a in attacks):
            time.sleep(1.0)
        heartbeat = (scene.drop / "alive").stat().st_mtime if (scene.drop / "alive").exists() else None
        results_file = Path(graded.root) / "results" / "results.json"
        return observe(graded, connected=scene.listener.connected,
                       outlived=heartbeat is not None and heartbeat > finished,
                       tree_changed=tree_digest(Path(graded.root) / "source") != fresh_digest(root),
                       rewritten=json.loads(results_file.read_text()) != graded.results)
    finally:
        scene.close()


def run_stash(attacks: list[Attack], root: Path, scene: Scene) -> dict:
    """A correct student's run leaves a stash; then an honest student's run reads and uses it."""
    writer = Attack("stash_writer", "", STASH_WRITER)
    grade(root / "writer", submission([writer], reference_tensor(), **scene.values))
    left = {folder: (Path(fill(folder, scene.values)) / f"hostile-stash-{scene.tag}.py").exists()
            for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "{shared}")}
    keys = {row.split()[0] for row in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]}
    left["sysv"] = str(int(scene.values["stash_key"])) in keys
    left["sysv-64mib"] = str(int(scene.values["shm_key"])) in keys
    reader = grade(root / "reader", submission(attacks[:1], honest_tensor(), **scene.values))
    for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock"):
        (Path(folder) / f"hostile-stash-{scene.tag}.py").unlink(missing_ok=True)
    return observe(reader, stash_left=left, connected=scene.listener.connected)


def make_zip(attack: Attack, root: Path, scene: Scene) -> Path:
    """The zipped submission of a zip attack: symlink members, or a bomb of zeros."""
    root.mkdir(parents=True, exist_ok=True)
    archive = root / f"{attack.name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, target in attack.links.items():
            info = zipfile.ZipInfo(path)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, fill(target, scene.values))
        if attack.layout == "zip_bomb":
            zf.writestr("tinytorch/core/tensor.py", honest_tensor())
            info = zipfile.ZipInfo("data/zeros.bin")
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as sink:
                block = bytes(2**20)
                for _ in range(1024):
                    sink.write(block)
    return archive


def fresh_digest(root: Path) -> str:
    fresh = root / "fresh"
    write_bundle(fresh)
    return tree_digest(fresh)


def honest_score_of(attack: Attack, honest: dict) -> tuple[float, dict]:
    """The score the same code earns without the attack, and its per-test scores."""
    if attack.layout in ("links", "zip_links"):
        return 0.0, {}  # only symlinks: no code of the student's own
    scores = {t["name"].split("› ")[-1]: t["score"] for t in honest["results"]["tests"][1:]}
    return honest["results"]["score"], scores


def _limitation(attack: Attack):
    if attack.needs_root and os.geteuid() != 0:
        return [pytest.mark.xfail(reason=f"known limitation: {attack.needs_root}", strict=False)]
    return []


@pytest.mark.parametrize("attack", [pytest.param(a, id=a.name, marks=_limitation(a)) for a in ATTACKS])
def test_attack_is_held(attack: Attack, honest, shared_dir):
    record = once(shared_dir, attack.run_key, lambda root: run_attacks(RUNS[attack.run_key], root))
    results = record["results"]
    check_results_schema(results)
    honest_score, honest_tests = honest_score_of(attack, honest)
    score = results["score"]
    assert score <= honest_score + 1e-9, f"{attack.name} raised the score to {score}:\n{record['output']}"
    if attack.target:
        scores = {t["name"].split("› ")[-1]: t["score"] for t in results["tests"][1:]}
        assert scores[attack.target] <= honest_tests[attack.target] + 1e-9, \
            f"{attack.name} won {attack.target} ({scores[attack.target]} points)"
        targets = {a.target for a in RUNS[attack.run_key]}
        changed = {name: score for name, score in scores.items() if name not in targets and score != honest_tests[name]}
        assert not changed, f"the family's code did not run as the honest code does (a crash?): {changed}"
    if score < honest_score - 1e-9 and attack.evidence:
        outputs = results.get("output", "") + "\n".join(test["output"] for test in results["tests"])
        assert any(e in outputs for e in attack.evidences), \
            f"the score fell without the reason ({attack.evidences!r}):\n{outputs[:2000]}"
    assert record["seconds"] < BUDGET + GRACE
    for secret in [HIDDEN_MARKER, *CHECKOUT_HIDDEN_NAMES]:
        assert secret not in record["visible"], f"hidden test text {secret!r} is visible"
    ratio = record["leaderboard"].get("add_time_ratio")
    assert ratio is None or ratio > FORGED_RATIO_FLOOR, f"the leaderboard shows a forged ratio {ratio}"
    assert record["peak_mib"] < PARENT_MEMORY_MIB, f"a trusted process of the grader reached {record['peak_mib']:.0f} MiB"
    assert record["leftovers"] == [], f"the submission left {record['leftovers'][:10]}"
    assert not record.get("connected"), "the submission reached a server over the network"
    assert not record.get("outlived"), "a process of the submission outlived the grader"
    assert not record.get("tree_changed"), "the bundle's tree changed"
    assert not record.get("rewritten"), "results.json changed after the grader finished"
    if attack.location:
        assert not record["stash_left"][attack.location], f"a stash in {attack.location} outlived its run"

