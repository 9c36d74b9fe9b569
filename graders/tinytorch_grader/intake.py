"""Take a submission in without letting it hurt the grader: capped unzip, regular files only.

A submission arrives as a zip (``make grade``, ``make grade-batch``), a folder, or Gradescope's
``/autograder/submission`` (which Gradescope unzipped itself). Whatever its form:

- a zip is expanded by ``extract_zip`` under caps on its member count, its total expanded size
  and each member's compression ratio (``ZipCaps``): a 3 MiB zip that would expand to 3 GiB is
  refused with an error naming the cap, before anything large is written;
- symlinks and special files (fifo, device, socket) are never taken, wherever they appear: as a
  zip member (its mode in ``external_attr``), in a folder, or as any component of the path to an
  owned file (a symlinked folder too). A symlink could point at the instructor's checkout or
  another submission; a fifo would block the grader that opens it;
- ``overlay`` copies only the files the module owns into the grader's tree, never following a link.

Pure standard library: this module ships in the bundle and runs on Python 3.10.
"""

from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

CHUNK = 2**20
SKIPPED_FOLDERS = frozenset({".git", ".venv", "__pycache__", ".ipynb_checkpoints"})
"""Folders of a student repository the grader never needs (and that can be large)."""


class RefusedSubmission(ValueError):
    """The submission breaks a cap or a rule; the message names which and how to fix it."""


@dataclass(frozen=True)
class ZipCaps:
    """What an uploaded zip may expand to. A course repository with its tests is a few MB."""

    members: int = 20_000
    total_bytes: int = 256 * 2**20
    ratio: float = 200.0
    """Largest expanded/compressed size of one member; source code compresses about 5:1."""
    ratio_floor_bytes: int = 2**20
    """Members smaller than this expand to little whatever their ratio, and are not checked for it."""


def extract_zip(archive: Path, dest: Path, caps: ZipCaps = ZipCaps()) -> list[str]:
    """Expand ``archive`` into ``dest`` (regular files and folders only); returns what was refused
    (symlinks, special files), one line each. Raises RefusedSubmission when a cap is broken."""
    refused = []
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        check_zip_caps(members, caps)
        budget = caps.total_bytes
        for info in members:
            kind = _zip_member_kind(info)
            if kind != "file" and kind != "folder":
                refused.append(f"{info.filename} ({kind}, not taken: only regular files are graded)")
                continue
            target = dest / _safe_member_path(info.filename)
            if kind == "folder":
                target.mkdir(parents=True, exist_ok=True)
                continue
            budget -= _extract_member(zf, info, target, budget)
    return refused


def check_zip_caps(members: list[zipfile.ZipInfo], caps: ZipCaps) -> None:
    """Refuse a zip by what its directory declares (the extraction also counts what it writes)."""
    if len(members) > caps.members:
        raise RefusedSubmission(f"the zip has {len(members)} members; the grader takes at most {caps.members} "
                                "(zip only your repository, without datasets or virtual environments)")
    total = sum(info.file_size for info in members)
    if total > caps.total_bytes:
        raise RefusedSubmission(f"the zip expands to {total / 2**20:.0f} MiB; the grader takes at most "
                                f"{caps.total_bytes / 2**20:.0f} MiB (zip only your source files)")
    for info in members:
        if info.flag_bits & 0x1:
            raise RefusedSubmission(f"{info.filename} is encrypted in the zip; zip it without a password")
        if info.file_size >= caps.ratio_floor_bytes and info.file_size > caps.ratio * max(info.compress_size, 1):
            raise RefusedSubmission(
                f"{info.filename} expands {info.file_size / max(info.compress_size, 1):.0f} times "
                f"({info.compress_size} bytes to {info.file_size}); the grader takes at most {caps.ratio:g} times "
                "(a zip bomb?). Zip your source files as they are")


def _zip_member_kind(info: zipfile.ZipInfo) -> str:
    mode = info.external_attr >> 16
    if info.filename.endswith("/") or stat.S_ISDIR(mode):
        return "folder"
    if not mode & 0o170000 or stat.S_ISREG(mode):  # no Unix mode (a zip made on Windows): a file
        return "file"
    return _kind_of_mode(mode)


def _safe_member_path(name: str) -> Path:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts or ":" in path.parts[0]:
        raise RefusedSubmission(f"the zip member {name!r} would be written outside the submission; "
                                "zip your repository folder with relative paths")
    return Path(*path.parts)


def _extract_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int) -> int:
    """Write one member, counting the bytes as they come (a member's header can lie); returns them."""
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with zf.open(info) as source, open(target, "wb") as sink:
            for chunk in iter(lambda: source.read(CHUNK), b""):
                written += len(chunk)
                if written > info.file_size or written > budget:
                    raise RefusedSubmission(f"{info.filename} expands past what the zip declares or the "
                                            "grader's size cap; zip your source files as they are")
                sink.write(chunk)
    except (zipfile.BadZipFile, OSError) as error:
        raise RefusedSubmission(f"{info.filename} could not be read from the zip ({error}); zip it again") from error
    os.chmod(target, 0o755 if (info.external_attr >> 16) & 0o111 else 0o644)
    return written


def copy_folder(source: Path, dest: Path, caps: ZipCaps = ZipCaps()) -> list[str]:
    """Copy a submitted folder's regular files and folders (not SKIPPED_FOLDERS) into ``dest``, never
    following a link; returns what was refused. Raises RefusedSubmission past the caps."""
    refused: list[str] = []
    counted = [0, 0]  # files, bytes
    dest.mkdir(parents=True, exist_ok=True)
    _copy_entries(source, dest, source, caps, refused, counted)
    return refused


def _copy_entries(folder: Path, dest: Path, top: Path, caps: ZipCaps, refused: list[str], counted: list[int]) -> None:
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            mode = entry.stat(follow_symlinks=False).st_mode
            relative = Path(entry.path).relative_to(top).as_posix()
            if stat.S_ISDIR(mode):
                if entry.name not in SKIPPED_FOLDERS:
                    (dest / entry.name).mkdir()
                    _copy_entries(Path(entry.path), dest / entry.name, top, caps, refused, counted)
            elif stat.S_ISREG(mode):
                counted[0] += 1
                counted[1] += entry.stat(follow_symlinks=False).st_size
                if counted[0] > caps.members or counted[1] > caps.total_bytes:
                    raise RefusedSubmission(f"the submission holds more than {caps.members} files or "
                                            f"{caps.total_bytes / 2**20:.0f} MiB; submit only your source files")
                copy_regular(Path(entry.path), dest / entry.name)
            else:
                refused.append(f"{relative} ({_kind_of_mode(mode)}, not taken: only regular files are graded)")


def refused_entries(submission: Path) -> list[str]:
    """Every symlink or special file anywhere in a submitted folder, one line each (for feedback)."""
    found = []
    for folder, dirs, files in os.walk(submission):
        for name in sorted([*dirs, *files]):
            path = Path(folder) / name
            mode = os.lstat(path).st_mode
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                found.append(f"{path.relative_to(submission).as_posix()} ({_kind_of_mode(mode)}, not taken)")
        dirs[:] = [d for d in dirs if d not in SKIPPED_FOLDERS]
    return found


def _kind_of_mode(mode: int) -> str:
    for test, kind in ((stat.S_ISLNK, "a symlink"), (stat.S_ISFIFO, "a fifo"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return kind
    return "a special file"


def overlay(owned: list[str], submission: Path, tree: Path) -> list[str]:
    """Copy only the module's own files from the submission into the tree; returns what is missing.

    A file is accepted at its package path from the submission root (``tinytorch/core/tensor.py``),
    under one or two extra folders (a zipped repository), or by its unique file name anywhere.
    Only a regular file reached through real folders counts: a symlink at any level of its path,
    or a special file, is as good as missing, and no link is ever followed.
    """
    missing = []
    for relative in owned:
        found = find_submitted(relative, submission)
        target = tree / relative
        if found is None:
            missing.append(relative)
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        copy_regular(found, target)
    return missing


def find_submitted(relative: str, submission: Path) -> Path | None:
    """Where the submission holds ``relative``: direct, under one or two folders, or by unique name."""
    if not real_folder(submission):
        return None
    parts = PurePosixPath(relative).parts
    if regular_below(submission, parts):
        return submission.joinpath(*parts)
    bases = [d for d in _real_subfolders(submission)]
    bases += [inner for outer in bases for inner in _real_subfolders(outer)]
    nested = [base.joinpath(*parts) for base in bases if regular_below(base, parts)]
    if len(nested) == 1:
        return nested[0]
    by_name = []
    for folder, dirs, files in os.walk(submission):  # never descends into a symlinked folder
        dirs[:] = [d for d in dirs if d != ".git"]
        if parts[-1] in files and regular_below(Path(folder), (parts[-1],)):
            by_name.append(Path(folder) / parts[-1])
    return by_name[0] if len(by_name) == 1 else None


def real_folder(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def regular_below(base: Path, parts: tuple[str, ...]) -> bool:
    """Whether base/parts... is a regular file reached through real folders only (no link anywhere)."""
    path = base
    for index, part in enumerate(parts):
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return False
        last = index == len(parts) - 1
        if not (stat.S_ISREG(mode) if last else stat.S_ISDIR(mode)):
            return False
    return True


def _real_subfolders(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            return sorted(Path(e.path) for e in entries
                          if e.is_dir(follow_symlinks=False) and e.name not in SKIPPED_FOLDERS)
    except OSError:
        return []


def copy_regular(source: Path, target: Path) -> None:
    """Copy one regular file without following a link, even if the source was swapped for one."""
    descriptor = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as reader:
        if not stat.S_ISREG(os.fstat(reader.fileno()).st_mode):
            raise RefusedSubmission(f"{source.name} is not a regular file; submit the file itself")
        if target.is_symlink():
            target.unlink()
        with open(target, "wb") as writer:
            for chunk in iter(lambda: reader.read(CHUNK), b""):
                writer.write(chunk)
