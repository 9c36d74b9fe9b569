"""What a sandboxed process can see: its own namespaces and a filesystem made of the folders it is given.

Between fork and exec (``Namespaces.enter``, called by ``sandbox``'s child set-up) the child

1. unshares a **network** namespace (an unconfigured loopback only), a **SysV IPC** namespace
   (shared memory, semaphores and message queues die with it) and a **mount** namespace, in one call
   (as root; a grader that is not root makes a user namespace first that maps only its own ids,
   when the kernel allows unprivileged user namespaces);
2. builds a new root in a small tmpfs (``View``): read-only binds of the system folders
   (``SYSTEM_PATHS``) and the Python runtime (``runtime_paths``), the caller's read-only and
   read-write folders **at the same absolute paths**, private empty tmpfs at ``/tmp``, ``/var/tmp``,
   ``/dev/shm`` and ``/run/lock``, a minimal ``/dev`` and a ``/proc`` that hides other users'
   processes when the kernel can;
3. ``pivot_root``\\ s into it and detaches the old root, so nothing else of the machine is reachable:
   not the instructor's checkout, not another submission, not a stash a previous run left.

The mounts belong to the namespace and vanish with its last process: private temp folders and IPC
objects cannot outlive the sandbox. ``available()`` probes once, before any fork, which of the
three the kernel allows (root or user namespaces, no seccomp filter in the way), and hands the answer
to the trusted processes the grader starts as itself (``probed_env``); the child only makes plain syscalls
(ctypes) from a plan computed in the parent. Pure standard library, Python 3.10.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from tinytorch_grader import temp_folders

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 0x20, 0x400, 0x800, 0x1000, 0x4000
MS_PRIVATE, MS_RELATIME = 0x40000, 0x200000
MNT_DETACH = 0x2
ST_RELATIME = 0x1000
KEPT_MOUNT_FLAGS = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME
"""Per-mount flags a bind remount must keep (statvfs's ST_* bits equal these MS_* bits)."""
PR_SET_NO_NEW_PRIVS = 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41}

SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
"""Read-only in every sandbox: programs, shared libraries, system configuration (world-readable
anyway; the point is what is left out: /home, /root, /work, /srv, /opt, /autograder, /mnt ...)."""
PRIVATE_TMP = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
"""The world-writable folders: each sandbox gets its own empty tmpfs there."""
DEVICES = ("null", "zero", "full", "random", "urandom")
DEVICE_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
                "stderr": "/proc/self/fd/2"}
ROOT_TMPFS = b"mode=0755,size=1m"


@dataclass(frozen=True)
class Step:
    """One operation of building the new root; ``target`` is an absolute path inside it."""

    kind: str
    """"bind" (read-only unless ``writable``), "tmpfs", "symlink", "device" or "proc"."""
    target: str
    source: str = ""
    writable: bool = False
    kept_flags: int = 0
    options: str = ""


@dataclass
class View:
    """The filesystem a sandboxed process sees: system and runtime folders read-only, the
    caller's folders at their own paths, private temp folders; everything else is absent."""

    read_only: list[Path] = field(default_factory=list)
    read_write: list[Path] = field(default_factory=list)
    runtime: list[Path] = field(default_factory=list)
    tmp_bytes: int = 64 * 2**20

    def steps(self) -> list[Step]:
        """The mount plan, parents before children; raises ValueError for a path that cannot be shown."""
        plan = [_system_step(Path(p)) for p in SYSTEM_PATHS if os.path.lexists(p)]
        plan += [Step("tmpfs", "/dev", options="mode=0755,size=64k")]
        plan += [Step("device", f"/dev/{name}", source=f"/dev/{name}") for name in DEVICES if os.path.exists(f"/dev/{name}")]
        plan += [Step("symlink", f"/dev/{name}", source=target) for name, target in DEVICE_LINKS.items()]
        plan += [Step("tmpfs", path, options=f"mode=1777,size={self.tmp_bytes}") for path in PRIVATE_TMP]
        plan += [Step("proc", "/proc")]
        return plan + self._folder_steps()

    def _folder_steps(self) -> list[Step]:
        both = {str(p) for p in self.read_only} & {str(p) for p in self.read_write}
        if both:
            raise ValueError(f"{sorted(both)} are both read-only and read-write in the sandbox; pick one")
        wanted = {(_absolute(p), False) for p in [*self.runtime, *self.read_only]}
        wanted |= {(_absolute(p), True) for p in self.read_write}
        steps = []
        for path, writable in sorted(wanted, key=lambda pair: (len(pair[0].parts), pair[1], str(pair[0]))):
            if not path.exists():
                raise ValueError(f"{path} cannot be shown in the sandbox: it does not exist")
            steps.append(Step("bind", str(path), source=str(path), writable=writable, kept_flags=_kept_flags(path)))
        return steps


def runtime_paths(*executables: str) -> list[Path]:
    """Folders a Python child needs besides SYSTEM_PATHS: this interpreter's prefixes, standard
    library and site-packages, each executable's folder and prefix, and LD_LIBRARY_PATH."""
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths = sysconfig.get_paths()
    found |= {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    for executable in executables:
        if os.path.isabs(executable):
            real = Path(executable).resolve()
            found |= {str(Path(executable).parent), str(real.parent), str(real.parent.parent)}
    found |= {entry for entry in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if entry}
    existing = sorted({Path(p).resolve() for p in found if p and os.path.isdir(p)}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in existing:
        if path != Path("/") and not any(_under(path, Path(s)) for s in SYSTEM_PATHS) \
                and not any(_under(path, k) for k in kept):
            kept.append(path)
    return kept


def _system_step(path: Path) -> Step:
    if path.is_symlink():  # merged /usr: /lib -> usr/lib
        return Step("symlink", str(path), source=os.readlink(path))
    return Step("bind", str(path), source=str(path), kept_flags=_kept_flags(path))


def _absolute(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    if path == Path("/"):
        raise ValueError("the sandbox cannot be shown the whole filesystem ('/'); pass the folders it needs")
    return path


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _kept_flags(path: Path) -> int:
    flags = os.statvfs(path).f_flag
    return (flags & KEPT_MOUNT_FLAGS) | (MS_RELATIME if flags & ST_RELATIME else 0)


class Namespaces:
    """The namespaces and view one child enters: looked up before the fork, entered after it."""

    def __init__(self, *, network: bool, ipc: bool, view: View | None) -> None:
        self.flags = (CLONE_NEWNET if network else 0) | (CLONE_NEWIPC if ipc else 0) | (CLONE_NEWNS if view else 0)
        self.own_user = bool(self.flags) and os.geteuid() != 0
        """Not root: a user namespace first, mapping only our own uid and gid (so after exec the
        child holds no capability in it and cannot undo the mounts)."""
        if self.own_user:
            self.flags |= CLONE_NEWUSER
        self.ids = os.getuid(), os.getgid()
        self.steps = view.steps() if view else []
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
        self.libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        self.pivot = SYS_PIVOT_ROOT.get(platform.machine())
        if view and self.pivot is None:
            raise OSError(f"no pivot_root syscall number known for {platform.machine()}")
        self.staging = str(temp_folders.make("tinytorch-root-")) if view else ""
        """Marked with its maker like the grader's other temp folders, so a sweep removes it after a
        kill; the child's tmpfs, mounted over it, hides the mark from the submission."""

    def close(self) -> None:
        """Remove the staging folder (the parent's copy: the child's mounts live in its namespace)."""
        if self.staging:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = ""

    def enter(self, cwd: Path | None) -> None:
        """In the child, as root: unshare, build and pivot into the new root, change into cwd."""
        if self.flags and self.libc.unshare(self.flags) != 0:
            self._fail("unshare")
        if self.own_user:
            self._map_own_ids()
        if self.steps:
            self._build_root()
        if cwd is not None:
            os.chdir(cwd)

    def _map_own_ids(self) -> None:
        uid, gid = self.ids
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)

    def _build_root(self) -> None:
        root = self.staging.encode()
        self._mount(None, b"/", None, MS_REC | MS_PRIVATE)
        self._mount(b"tmpfs", root, b"tmpfs", MS_NOSUID | MS_NODEV, ROOT_TMPFS)
        for step in self.steps:
            self._apply(root, step)
        os.chdir(root)
        if self.libc.syscall(self.pivot, b".", b".") != 0:
            self._fail("pivot_root")
        if self.libc.umount2(b".", MNT_DETACH) != 0:
            self._fail("umount the old root")
        os.chdir("/")
        self._mount(None, b"/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)

    def _apply(self, root: bytes, step: Step) -> None:
        target = root + step.target.encode()
        if step.kind == "symlink":
            os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
            os.symlink(step.source, target)
        elif step.kind == "tmpfs":
            os.makedirs(target, mode=0o755, exist_ok=True)
            self._mount(b"tmpfs", target, b"tmpfs", MS_NOSUID | MS_NODEV, step.options.encode())
        elif step.kind == "device":
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
            self._mount(step.source.encode(), target, None, MS_BIND)
        elif step.kind == "proc":
            os.makedirs(target, mode=0o555, exist_ok=True)
            flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
            if self.libc.mount(b"proc", target, b"proc", flags, b"hidepid=invisible") != 0:
                self._mount(b"/proc", target, None, MS_BIND | MS_REC)  # kernels before 5.8, or a masked /proc
        else:
            self._bind(target, step)

    def _bind(self, target: bytes, step: Step) -> None:
        if os.path.isdir(step.source):
            os.makedirs(target, mode=0o755, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
            if not os.path.exists(target):
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
        self._mount(step.source.encode(), target, None, MS_BIND | MS_REC)
        flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | step.kept_flags
        self._mount(None, target, None, flags if step.writable else flags | MS_RDONLY)

    def _mount(self, source, target, fstype, flags: int, data: bytes | None = None) -> None:
        if self.libc.mount(source, target, fstype, flags, data) != 0:
            self._fail(f"mount {target!r}")

    def _fail(self, what: str) -> None:
        errno = ctypes.get_errno()
        raise OSError(errno, f"sandbox set-up failed at {what}: {os.strerror(errno)}")


def no_new_privileges() -> None:
    """In the child: exec can never gain privileges again (setuid programs run as the caller)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


@dataclass(frozen=True)
class Available:
    """Which isolation the kernel allows this grader, and why not where it does not."""

    network: bool
    ipc: bool
    filesystem: bool
    why_not: tuple[str, ...] = ()


NOT_ROOT = "the grader is not root and the kernel allows it no user namespace"
MISSING = {
    "network": "no network namespace available: the student code could reach the network",
    "ipc": "no IPC namespace available: SysV shared memory and semaphores the student code makes "
           "are shared with the machine (the grader removes the sandbox user's afterwards)",
    "filesystem": "no mount namespace available: the student code sees every world-readable file of "
                  "the machine (the instructor's checkout, other submissions) and the shared temp folders",
}
_AVAILABLE: Available | None = None
PROBED_ENV = "TINYTORCH_ISOLATION_PROBED"
"""Carries ``available()`` from the grader to a test process it starts as the same user on the same
kernel, which would otherwise probe again (three child Pythons per group)."""


def available() -> Available:
    """Probe once per grader by starting a tiny sandboxed child for each namespace."""
    global _AVAILABLE
    if _AVAILABLE is None:
        _AVAILABLE = _inherited() or _probe_all()
    return _AVAILABLE


def probed_env() -> dict[str, str]:
    """The environment entry by which a child of the same user inherits ``available()``."""
    return {PROBED_ENV: json.dumps({"euid": os.geteuid(), **dataclasses.asdict(available())})}


def _inherited() -> Available | None:
    try:
        found = json.loads(os.environ.get(PROBED_ENV, "null"))
        if found is None or found.pop("euid") != os.geteuid():
            return None
        return Available(found["network"], found["ipc"], found["filesystem"], tuple(found["why_not"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _probe_all() -> Available:
    """As root, each namespace directly; as another user, each inside a user namespace of its own."""
    if os.geteuid() != 0 and not _probe(Namespaces(network=False, ipc=True, view=None)):
        return Available(False, False, False, tuple(f"{MISSING[k]} ({NOT_ROOT})" for k in MISSING))
    works = {
        "network": _probe(Namespaces(network=True, ipc=False, view=None)),
        "ipc": _probe(Namespaces(network=False, ipc=True, view=None)),
        "filesystem": _probe_view(),
    }
    return Available(why_not=tuple(MISSING[k] for k, ok in works.items() if not ok), **works)


def _probe_view() -> bool:
    python = os.path.abspath(sys.executable)  # a path with ".." in it has no way up inside a view
    try:
        namespaces = Namespaces(network=False, ipc=False, view=View(runtime=runtime_paths(python)))
    except (OSError, ValueError):
        return False
    try:
        return _probe(namespaces, [python, "-S", "-c", "import os; os.listdir('/tmp')"])
    finally:
        namespaces.close()


def _probe(namespaces: Namespaces, command: list[str] | None = None) -> bool:
    try:
        done = subprocess.run(command or [sys.executable, "-S", "-c", ""], preexec_fn=lambda: namespaces.enter(None),
                              capture_output=True, check=False, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0
