"""Run one untrusted process (a pytest group) under limits, and clean up everything it left.

What a sandboxed run gets (each a defence against a hostile submission, see docs/SECURITY.md):

- **its own user**: when the grader is root (Gradescope), the child drops to a fresh uid with no
  account, no groups and no capabilities (``choose_uid``), so it cannot write the results, the
  bundle or the tests (all root-owned), and every process it leaves behind can be found by uid;
- **limits** (``Limits``): CPU seconds, address space, process count, file size, no core dumps;
  the parent also stops it at a wall-clock limit and when it prints more than ``max_output_bytes``;
- **no network**: a new, empty network namespace (only a loopback that is down), when the
  kernel allows it; ``RunRecord.isolation`` says which defences were in force;
- **a clean exit**: after the run, every process of the sandbox uid (or every orphan the parent
  inherited as a child subreaper) is killed, and its files in the world-writable temp folders go.

The child talks to the parent through one inherited pipe (``channel_fd``), never through a file.
Pure standard library: this module ships in the bundle and runs on Python 3.10.
"""

from __future__ import annotations

import ctypes
import os
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CLONE_NEWNET = 0x40000000
PR_SET_CHILD_SUBREAPER = 36
SANDBOX_UID_BASE = 1_800_000
"""Sandbox uids are SANDBOX_UID_BASE + (grader pid mod 100000): unique among concurrent graders,
far above any account's uid, and owning nothing on the system."""
WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")
CHANNEL_CAP = 64 * 2**20
"""Most bytes read from the report channel; more means a flood, not a report."""
KILL_ROUNDS = 50
CHANNEL_FD_PLACEHOLDER = "{channel_fd}"
"""Written in a command where the child must name its report pipe's file descriptor."""


@dataclass
class Limits:
    """Resource limits of one sandboxed run; a bundle's grader.json may override them ("limits")."""

    memory_bytes: int = 3 * 2**30
    """RLIMIT_AS: address space. NumPy with one BLAS thread needs a few hundred MB of it."""
    max_processes: int = 64
    """RLIMIT_NPROC for the sandbox uid: a fork bomb stops here."""
    max_file_bytes: int = 256 * 2**20
    """RLIMIT_FSIZE: the largest file the child may write."""
    max_output_bytes: int = 2 * 2**20
    """stdout+stderr kept; past this the run is stopped (someone printing gigabytes)."""
    startup_seconds: float = 30.0
    """Added to a group's wall-clock limit for starting Python, importing NumPy and collecting."""
    cpu_margin_seconds: float = 5.0
    """RLIMIT_CPU is the wall-clock limit plus this (CPU time cannot exceed wall time on one core)."""

    @classmethod
    def from_config(cls, data: dict | None) -> "Limits":
        """Defaults, overridden by known keys; an unknown key is an error naming it."""
        data = data or {}
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"grader.json 'limits' has unknown keys {sorted(unknown)}; "
                             f"known: {sorted(cls.__dataclass_fields__)}")
        return cls(**data)


@dataclass
class Isolation:
    """Which defences a run had, and why one was missing (recorded in the report)."""

    uid: int | None = None
    network: bool = False
    why_not: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The uid itself is left out: it changes from run to run, the results must not."""
        return {"unprivileged_user": self.uid is not None, "network_isolated": self.network,
                "limitations": self.why_not}


@dataclass
class RunRecord:
    """What the parent saw of one sandboxed run."""

    returncode: int | None
    output: str
    channel: str
    killed: str | None
    seconds: float
    isolation: Isolation


def is_root() -> bool:
    return os.geteuid() == 0


def choose_uid() -> int | None:
    """A fresh uid for this grading run when the grader is root, else None (stay as we are)."""
    return SANDBOX_UID_BASE + os.getpid() % 100_000 if is_root() else None


def become_subreaper() -> bool:
    """Make orphaned descendants (daemonised children) our children, so they can be found."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def interpreter(uid: int | None) -> tuple[str, list[str]] | None:
    """The Python the child runs and extra sys.path entries it needs; None when the sandbox uid
    can reach no suitable Python (then the caller runs the child as its own user).

    The grader's own Python when the sandbox uid can reach it (Gradescope's /autograder/venv);
    otherwise (a Python under /root, say) the system python3.X of the same version with the
    grader's site-packages on PYTHONPATH, when those are readable.
    """
    if uid is None or _world_reachable(Path(sys.executable)) and _world_reachable(Path(sys.base_prefix) / "lib"):
        return sys.executable, []
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = list(dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]))
    for folder in ("/usr/bin", "/usr/local/bin"):
        candidate = Path(folder) / version
        if candidate.is_file() and _world_reachable(candidate) and all(_world_reachable(Path(s)) for s in site):
            return str(candidate), site
    return None


UNREACHABLE_PYTHON = ("the grader's Python is in a folder an unprivileged user cannot read (such as /root), "
                      "so the student code runs as the grader's user; install the grader's venv elsewhere "
                      "(setup.sh uses /autograder/venv)")


def _world_reachable(path: Path) -> bool:
    """Every folder on the way is searchable by others and the target readable by others."""
    try:
        target = path.resolve()
        if not target.stat().st_mode & 0o004:
            return False
        return all(parent.stat().st_mode & 0o001 for parent in target.parents)
    except OSError:
        return False


def prepare_home(home: Path, uid: int | None) -> None:
    """A private writable HOME (and TMPDIR inside it) for the child."""
    (home / "tmp").mkdir(parents=True)
    if uid is not None:
        for path in (home, home / "tmp"):
            os.chown(path, uid, uid)
            path.chmod(0o700)


def run(command: list[str], *, cwd: Path, env: dict, wall_seconds: float, limits: Limits,
        uid: int | None) -> RunRecord:
    """Run ``command`` sandboxed; ``{channel_fd}`` in it becomes the report pipe's descriptor."""
    isolation = Isolation(uid=uid)
    if uid is None and not is_root():
        isolation.why_not.append("grader not running as root: the student code runs as the grader's own user")
    isolation.network = _network_namespaces_work()
    if not isolation.network:
        isolation.why_not.append("no network namespace available: the student code could reach the network")
    read_end, write_end = os.pipe()
    command = [part.replace(CHANNEL_FD_PLACEHOLDER, str(write_end)) for part in command]
    known_children = _children()
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        pass_fds=(write_end,), start_new_session=True,
        preexec_fn=_child_setup(limits, uid, wall_seconds, isolation.network),
    )
    os.close(write_end)
    output = _CappedReader(process.stdout, limits.max_output_bytes)
    channel = _CappedReader(os.fdopen(read_end, "rb"), CHANNEL_CAP)
    killed = _wait(process, wall_seconds, output, channel)
    kill_everything(process, uid, known_children)
    output.join()
    channel.join()
    return RunRecord(
        returncode=process.returncode, output=output.text(), channel=channel.text(), killed=killed,
        seconds=round(time.monotonic() - started, 3), isolation=isolation,
    )


def _wait(process: subprocess.Popen, wall_seconds: float, output: "_CappedReader",
          channel: "_CappedReader") -> str | None:
    """Wait for the child; the reason it was stopped early, or None."""
    deadline = time.monotonic() + wall_seconds
    while process.poll() is None:
        if time.monotonic() > deadline:
            return f"the whole group was stopped after {wall_seconds:.0f} s (a test ran too long: an infinite loop?)"
        if output.overflowed:
            return (f"the tests printed more than {output.cap // 2**20 or 1} MB, so the group was stopped "
                    "(remove the prints inside loops)")
        if channel.overflowed:
            return "the test process flooded the grader's report channel, so the group was stopped"
        time.sleep(0.05)
    return None


class _CappedReader:
    """Drain a pipe in a thread, keeping at most ``cap`` bytes (the rest is read and dropped)."""

    def __init__(self, stream, cap: int) -> None:
        self.stream, self.cap = stream, cap
        self.chunks: list[bytes] = []
        self.kept = 0
        self.overflowed = False
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        with self.stream:
            for chunk in iter(lambda: self.stream.read1(65536), b""):
                room = self.cap - self.kept
                if room > 0:
                    self.chunks.append(chunk[:room])
                    self.kept += min(room, len(chunk))
                if len(chunk) > room:
                    self.overflowed = True

    def join(self) -> None:
        self.thread.join(timeout=10)

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", "replace")


def _child_setup(limits: Limits, uid: int | None, wall_seconds: float, isolate_network: bool):
    """The function the child runs between fork and exec: namespace, user, limits."""
    cpu = int(wall_seconds + limits.cpu_margin_seconds)
    nproc = limits.max_processes if uid is not None else _own_process_count() + limits.max_processes
    unshare = ctypes.CDLL(None, use_errno=True).unshare  # looked up before the fork, only called after

    def setup() -> None:
        if isolate_network and unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "could not create the sandbox's network namespace")
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        os.umask(0o077)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_bytes, limits.max_file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return setup


_NETNS_WORKS: bool | None = None


def _network_namespaces_work() -> bool:
    """Whether this process may create a network namespace (root, and not blocked by seccomp)."""
    global _NETNS_WORKS
    if _NETNS_WORKS is None:
        if not is_root():
            _NETNS_WORKS = False
        else:
            probe = subprocess.run(
                [sys.executable, "-c", "pass"], preexec_fn=_probe_unshare, capture_output=True, check=False,
            )
            _NETNS_WORKS = probe.returncode == 0
    return _NETNS_WORKS


def _probe_unshare() -> None:
    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) != 0:
        os._exit(3)


def kill_everything(process: subprocess.Popen, uid: int | None, known_children: set[int]) -> None:
    """Kill the child, its process group, every process of the sandbox uid and every orphan we
    inherited; then reap them and delete the uid's files in the world-writable folders."""
    for _ in range(KILL_ROUNDS):
        _signal_group(process.pid)
        if uid is not None:
            _kill_uid(uid)
        orphans = _children() - known_children - {process.pid}
        for pid in orphans:
            _signal(pid)
        if process.poll() is None:
            try:
                process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                continue
        _reap(orphans)
        if not (uid is not None and _uid_processes(uid)) and not (_children() - known_children - {process.pid}):
            break
    if uid is not None:
        remove_files_of(uid)


def _signal_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _signal(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_uid(uid: int) -> None:
    """kill(-1) as the sandbox uid: every process that uid owns, however it detached itself."""
    if not _uid_processes(uid):
        return
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _reap(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _proc_status(pid: str) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _uid_processes(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            status = _proc_status(entry)
            if status.get("Uid", "").split()[:1] == [str(uid)] and status.get("State", "").strip()[:1] != "Z":
                found.append(int(entry))
    return found


def _children() -> set[int]:
    """Live children of this process (orphans land here when we are a subreaper)."""
    me = str(os.getpid())
    return {int(e) for e in os.listdir("/proc") if e.isdigit() and _proc_status(e).get("PPid", "").strip() == me}


def _own_process_count() -> int:
    return len(_uid_processes(os.getuid()))


def remove_files_of(uid: int) -> None:
    """Delete what the sandbox uid left in the world-writable folders (so no later run reads it)."""
    for top in WORLD_WRITABLE:
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass
