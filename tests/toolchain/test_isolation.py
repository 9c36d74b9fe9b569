"""The sandbox sees only its own tree: namespaces, private temp folders, freeze/thaw, degradation.

Run as root (CI, Gradescope); as another user the namespace tests are skipped and the
degradation test shows what is recorded instead. One test drops to nobody to check the view a
grader that is not root gets through a user namespace.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from tinytorch_grader import isolation, sandbox, temp_folders

ROOT = Path(__file__).resolve().parents[2]
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces and a sandbox uid need root")

LOOK_AROUND = textwrap.dedent("""
    import ctypes, json, os, socket, sys
    seen = {"uid": os.getuid(), "cwd": os.getcwd(), "checkout": os.path.exists(sys.argv[1]),
            "host_marker": os.path.exists(sys.argv[2]), "top": sorted(os.listdir("/"))}
    seen["temp"] = {top: os.listdir(top) for top in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")}
    for top in ("/var/tmp", "/dev/shm", "/run/lock"):
        open(os.path.join(top, sys.argv[6]), "w").write("left behind")
    seen["read_only_written"] = seen["read_write_written"] = True
    try:
        open(os.path.join(sys.argv[3], "new"), "w")
    except OSError:
        seen["read_only_written"] = False
    open(os.path.join(sys.argv[4], "new"), "w").write("ok")
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=1)
        seen["network"] = True
    except OSError:
        seen["network"] = False
    libc = ctypes.CDLL(None, use_errno=True)
    seen["shm"] = libc.shmget(int(sys.argv[5]), 2**20, 0o1000 | 0o666)
    seen["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    print(json.dumps(seen))
""")


def spawn_and_read(tmp_path: Path, uid, **kwargs) -> tuple[dict, sandbox.Isolation]:
    given_ro, given_rw = tmp_path / "given_ro", tmp_path / "given_rw"
    for folder in (given_ro, given_rw):
        folder.mkdir()
        folder.chmod(0o755)
    if uid is not None:
        os.chown(given_rw, uid, uid)
    tmp_path.chmod(0o755)
    marker = Path("/tmp") / f"host-marker-{os.getpid()}"
    marker.write_text("outside")
    key = 0x7470000 + os.getpid() % 0xFFFF
    try:
        process, record = sandbox.spawn(
            [sys.executable, "-c", LOOK_AROUND, str(ROOT / "README.md"), str(marker), str(given_ro), str(given_rw), str(key),
             stash_name()],
            cwd=given_ro, env={"PATH": "/usr/bin:/bin"}, limits=sandbox.Limits(), uid=uid,
            read_only=[given_ro], read_write=[given_rw], **kwargs)
        output = sandbox.CappedReader(process.stdout, 2**20)
        process.wait(timeout=60)
        output.join()
        sandbox.kill_everything(process, uid, set())
    finally:
        marker.unlink()
    lines = output.text().strip().splitlines()
    assert lines, f"the child printed nothing (exit {process.returncode})"
    return json.loads(lines[-1]), record


def stash_name() -> str:
    return f"stash-{os.getpid()}"


@as_root
def test_the_sandbox_sees_only_the_system_the_runtime_and_its_own_folders(tmp_path):
    uid = sandbox.choose_uid(1)
    seen, record = spawn_and_read(tmp_path, uid)
    assert record.filesystem and record.ipc and record.network and record.why_not == []
    assert seen["uid"] == uid and seen["cwd"] == str(tmp_path / "given_ro")
    assert not seen["checkout"], "the instructor's checkout is visible in the sandbox"
    assert not seen["host_marker"], "the machine's /tmp is visible in the sandbox"
    assert seen["temp"]["/var/tmp"] == seen["temp"]["/dev/shm"] == seen["temp"]["/run/lock"] == []
    runtime_under_tmp = {p.parts[2] for p in isolation.runtime_paths(sys.executable)
                         if len(p.parts) > 2 and p.parts[1] == "tmp"}  # a checkout (and its venv) under /tmp
    assert set(seen["temp"]["/tmp"]) == {str(tmp_path).split("/")[2]} | runtime_under_tmp  # only the ways to its own folders
    assert not seen["read_only_written"] and (tmp_path / "given_rw" / "new").read_text() == "ok"
    assert not seen["network"]
    assert set(seen["top"]) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "run", "sbin",
                                "tmp", "usr", "var", *(p.parts[1] for p in isolation.runtime_paths(sys.executable))}
    assert len(seen["processes"]) == 1, "the sandbox sees other users' processes"


@as_root
def test_nothing_the_sandbox_made_outlives_it(tmp_path):
    uid = sandbox.choose_uid(1)
    seen, _ = spawn_and_read(tmp_path, uid)
    assert seen["shm"] >= 0, "the child could not create its shared memory segment"
    leftover_segments = [row for row in sandbox._sysvipc_rows("shm") if row.get("cuid") == str(uid)]
    assert leftover_segments == []
    for top in ("/var/tmp", "/dev/shm", "/run/lock"):
        assert not (Path(top) / stash_name()).exists()


@as_root
def test_freeze_stops_every_process_of_the_uid_and_thaw_resumes_them(tmp_path):
    uid = sandbox.choose_uid(2)
    tmp_path.chmod(0o755)
    code = "import os, time\nos.fork()\nwhile True:\n    time.sleep(0.01)\n"
    process, _ = sandbox.spawn([sys.executable, "-c", code], cwd=tmp_path, env={}, limits=sandbox.Limits(),
                               uid=uid, read_only=[tmp_path], read_write=[])
    output = sandbox.CappedReader(process.stdout, 4096)
    try:
        deadline = time.monotonic() + 20
        while len(sandbox._uid_processes(uid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(sandbox._uid_processes(uid)) == 2
        assert sandbox.freeze(uid)
        states = {sandbox._proc_status(str(pid))["State"].split()[0] for pid in sandbox._uid_processes(uid)}
        assert states == {"T"}
        sandbox.thaw(uid)
        time.sleep(0.2)
        assert sandbox._running(uid, None)
    finally:
        sandbox.kill_everything(process, uid, set())
        output.join()
    assert sandbox._uid_processes(uid) == []


def test_sandbox_uids_of_one_grader_are_distinct_and_bounded():
    if os.geteuid() != 0:
        assert sandbox.choose_uid(0) is None
        return
    uids = {sandbox.choose_uid(k) for k in range(sandbox.UIDS_PER_GRADER)}
    assert len(uids) == sandbox.UIDS_PER_GRADER and min(uids) >= sandbox.SANDBOX_UID_BASE
    with pytest.raises(ValueError, match="offset"):
        sandbox.choose_uid(sandbox.UIDS_PER_GRADER)


def test_missing_namespaces_are_recorded_and_the_child_still_runs(tmp_path, monkeypatch):
    missing = isolation.Available(False, False, False, tuple(isolation.MISSING.values()))
    monkeypatch.setattr(isolation, "_AVAILABLE", missing)
    tmp_path.chmod(0o755)
    uid = sandbox.choose_uid(3)
    python = (sandbox.interpreter(uid) or (sys.executable, []))[0]  # no view: a Python the uid can reach
    process, record = sandbox.spawn([python, "-c", "print('ran')"], cwd=tmp_path, env={}, limits=sandbox.Limits(),
                                    uid=uid, read_only=[tmp_path], read_write=[])
    output = sandbox.CappedReader(process.stdout, 4096)
    assert process.wait(timeout=60) == 0
    output.join()
    assert output.text().strip() == "ran"
    described = record.to_dict()
    assert not (described["network_isolated"] or described["ipc_isolated"] or described["filesystem_isolated"])
    assert any("mount namespace" in why for why in described["limitations"])


@as_root
def test_without_a_view_what_the_child_left_in_the_machines_temp_folders_goes(tmp_path, monkeypatch):
    """With its own view the child's temp folders are private and vanish with it; without one it
    wrote into the machine's, and run() walks them for what its uid left."""
    monkeypatch.setattr(isolation, "_AVAILABLE", isolation.Available(False, False, False, ("no view",)))
    (tmp_path / "cwd").mkdir()
    tmp_path.chmod(0o755)
    uid = sandbox.choose_uid(3)
    python = (sandbox.interpreter(uid) or (sys.executable, []))[0]
    stash = Path("/var/tmp") / stash_name()
    record = sandbox.run([python, "-c", f"open({str(stash)!r}, 'w').write('left')"], cwd=tmp_path / "cwd", env={},
                         wall_seconds=60, limits=sandbox.Limits(), uid=uid)
    assert record.returncode == 0, record.output
    assert not record.isolation.filesystem
    assert not stash.exists(), "a file the sandbox left in /var/tmp outlived it"


def test_a_view_refuses_the_whole_filesystem_and_missing_folders(tmp_path):
    with pytest.raises(ValueError, match="whole filesystem"):
        isolation.View(read_only=[Path("/")]).steps()
    with pytest.raises(ValueError, match="does not exist"):
        isolation.View(read_write=[tmp_path / "absent"]).steps()
    with pytest.raises(ValueError, match="both read-only and read-write"):
        isolation.View(read_only=[tmp_path], read_write=[tmp_path]).steps()


def test_the_staging_root_is_marked_with_its_maker_and_goes_on_close(tmp_path, monkeypatch):
    """The empty mount point a view is built under: a sweep removes it once its grader is killed."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    namespaces = isolation.Namespaces(network=False, ipc=False, view=isolation.View(read_only=[tmp_path]))
    staging = Path(namespaces.staging)
    assert staging.parent == tmp_path and staging.name.startswith("tinytorch-root-")
    mark = (staging / temp_folders.OWNER_FILE).read_text(encoding="utf-8")
    assert mark == temp_folders.identity(os.getpid()) and not temp_folders.abandoned(staging)
    namespaces.close()
    assert not staging.exists() and namespaces.staging == ""


@as_root
def test_leftovers_in_shared_folders_go_at_any_depth_but_given_folders_stay(tmp_path):
    uid = sandbox.choose_uid(3)
    shared = Path("/tmp") / f"shared-{os.getpid()}"
    given = tmp_path / "given"
    try:
        shared.mkdir(mode=0o1777)
        shared.chmod(0o1777)
        given.mkdir()
        passable, closed = shared / "passable", shared / "closed"  # root's: searchable by others, or not
        for folder, mode in ((passable, 0o755), (passable / "open", 0o1777), (closed, 0o700), (closed / "open", 0o1777)):
            folder.mkdir()
            folder.chmod(mode)
        for path in (shared / "stash", passable / "open" / "stash", closed / "open" / "stash", given / "kept"):
            path.write_text("x")
            os.chown(path, uid, uid)
        os.chown(given, uid, uid)
        sandbox.remove_files_of(uid)
        assert not (shared / "stash").exists()
        assert not (passable / "open" / "stash").exists(), "a world-writable folder below a passable one was missed"
        assert (closed / "open" / "stash").exists()  # the uid could never have reached it: the walk skips it
        assert (given / "kept").exists()
    finally:
        shutil.rmtree(shared, ignore_errors=True)


WRITER = "import os, sys, time\nwhile True:\n    os.makedirs(os.path.join(sys.argv[1], 'tmp', str(time.monotonic_ns())), exist_ok=True)\n"


def test_a_run_folder_goes_even_while_an_unlisted_child_still_writes_into_it(tmp_path):
    """The race behind a leftover run folder under load: a server that the test process was still
    starting (root until its setuid, so no uid finds it) writes into the folder while it is deleted."""
    folder = tmp_path / "run"
    (folder / "tmp").mkdir(parents=True)
    known = sandbox._children()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(folder)])
    deadline = time.monotonic() + 20
    while len(os.listdir(folder / "tmp")) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(os.listdir(folder / "tmp")) >= 3, "the writer never started"
    sandbox.clear_away(folder, [sandbox.choose_uid(3)], known)
    assert not folder.exists()
    assert writer.poll() is not None, "the writer outlived clear_away"
    assert sandbox._children() - known == set()


NOT_ROOT_PROBE = textwrap.dedent("""
    import json, os, socket, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from tinytorch_grader import sandbox
    given = Path(sys.argv[2])
    look = ("import json, os\\n"
            f"print(json.dumps({{'checkout': os.path.exists({sys.argv[3]!r}), 'tmp': os.listdir('/tmp')}}))")
    process, record = sandbox.spawn(["/usr/bin/python3", "-S", "-c", look], cwd=given, env={}, limits=sandbox.Limits(),
                                    uid=None, read_only=[given], read_write=[])
    output = sandbox.CappedReader(process.stdout, 65536)
    process.wait(timeout=60)
    output.join()
    print(json.dumps({"record": record.to_dict(), "child": json.loads(output.text())}))
""")


@as_root
def test_a_grader_that_is_not_root_gets_the_view_through_a_user_namespace():
    """Run as nobody (a developer's `make grade`): the same view, when unprivileged user namespaces exist."""
    graders = ROOT / "graders"
    if not (shutil.which("setpriv") and Path("/usr/bin/python3").is_file() and sandbox._world_reachable(graders / "tinytorch_grader" / "sandbox.py")):
        pytest.skip("needs setpriv, /usr/bin/python3 and a checkout other users can read")
    given = Path(tempfile.mkdtemp(prefix="not-root-"))
    try:
        given.chmod(0o755)
        script = given / "probe.py"
        script.write_text(NOT_ROOT_PROBE)
        script.chmod(0o644)
        done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", str(script),
                               str(graders), str(given), str(ROOT / "README.md")], capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(given)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    if not seen["record"]["filesystem_isolated"]:
        pytest.skip(f"this kernel allows no unprivileged user namespace: {seen['record']['limitations']}")
    assert seen["record"]["network_isolated"] and seen["record"]["ipc_isolated"]
    assert not seen["record"]["unprivileged_user"]
    assert seen["child"] == {"checkout": False, "tmp": [given.name]}


def test_a_child_of_the_same_user_inherits_the_probe_and_another_user_probes_again(monkeypatch):
    """The grader hands the trusted test process what it probed; the answer only holds for the same
    euid (another user may lack the namespaces root has), and a garbled entry means probing anew."""
    found = isolation.Available(True, False, True, ("no IPC namespace (test)",))
    monkeypatch.setattr(isolation, "_AVAILABLE", found)
    entry = isolation.probed_env()
    monkeypatch.setattr(isolation, "_AVAILABLE", None)
    monkeypatch.setenv(isolation.PROBED_ENV, entry[isolation.PROBED_ENV])
    assert isolation._inherited() == found
    other_user = json.loads(entry[isolation.PROBED_ENV]) | {"euid": os.geteuid() + 1}
    monkeypatch.setenv(isolation.PROBED_ENV, json.dumps(other_user))
    assert isolation._inherited() is None
    monkeypatch.setenv(isolation.PROBED_ENV, "{not json")
    assert isolation._inherited() is None
