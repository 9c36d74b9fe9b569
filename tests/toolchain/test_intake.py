"""Submissions cannot hurt the grader: capped unzip, no symlink or special file ever taken."""

import os
import stat
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from coursetools.grade.submission import place_submission
from tinytorch_grader import intake
from tinytorch_grader.intake import RefusedSubmission, ZipCaps

OWNED = ["tinytorch/core/tensor.py"]
SOURCE = "class Tensor:\n    pass\n"


def write(path: Path, text: str = SOURCE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def zeros_member(zf: zipfile.ZipFile, name: str, size: int) -> None:
    """A member of ``size`` zero bytes, streamed (nothing that large is ever held in memory)."""
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zf.open(info, "w", force_zip64=True) as sink:
        block = bytes(2**20)
        for _ in range(size // len(block)):
            sink.write(block)


def test_a_zip_bomb_is_refused_before_it_expands(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("tinytorch/core/tensor.py", SOURCE)
        zeros_member(zf, "data/zeros.bin", 128 * 2**20)
    assert bomb.stat().st_size < 2 * 2**20
    tracemalloc.start()
    try:
        with pytest.raises(RefusedSubmission, match="expands .* times"):
            place_submission(bomb, tmp_path / "out")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"{peak / 2**20:.0f} MB held while refusing: the bomb was expanded"
    assert sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file()) < 2**20


def test_too_many_members_and_too_many_bytes_are_named(tmp_path):
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for k in range(30):
            zf.writestr(f"f{k}.py", os.urandom(4096))
    with pytest.raises(RefusedSubmission, match="30 members; the grader takes at most 10"):
        intake.extract_zip(archive, tmp_path / "a", ZipCaps(members=10))
    with pytest.raises(RefusedSubmission, match="at most 0 MiB"):
        intake.extract_zip(archive, tmp_path / "b", ZipCaps(total_bytes=64 * 1024))


def test_a_member_that_expands_past_its_declared_size_is_refused(tmp_path):
    """The central directory says 100 bytes; the stream holds 4 MiB (a header that lies)."""
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.bin", bytes(4 * 2**20))
    raw = bytearray(archive.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.index(signature)
        raw[at + offset:at + offset + 4] = struct.pack("<I", 100)
    archive.write_bytes(bytes(raw))
    with pytest.raises(RefusedSubmission):
        intake.extract_zip(archive, tmp_path / "out")
    assert (tmp_path / "out" / "big.bin").stat().st_size <= 100


def test_zip_symlinks_and_special_members_are_left_out(tmp_path):
    archive = tmp_path / "links.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        link = zipfile.ZipInfo("tinytorch/core/tensor.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        fifo = zipfile.ZipInfo("pipe")
        fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
        zf.writestr(fifo, "")
        zf.writestr("README.md", "hello")
    refused = place_submission(archive, tmp_path / "out")
    assert [line.split(" ")[0] for line in refused] == ["tinytorch/core/tensor.py", "pipe"]
    assert "a symlink" in refused[0] and "a fifo" in refused[1]
    assert sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file()) == ["README.md"]


@pytest.mark.parametrize("name", ["../escape.py", "/abs.py", "C:/win.py"])
def test_a_member_outside_the_submission_is_refused(tmp_path, name):
    archive = tmp_path / "escape.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo("ok.py"), "x")
        info = zipfile.ZipInfo("placeholder")
        info.filename = name
        zf.writestr(info, "x")
    with pytest.raises(RefusedSubmission, match="outside the submission"):
        intake.extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "escape.py").exists()


def test_a_folder_copy_takes_regular_files_only(tmp_path):
    secret = write(tmp_path / "instructor" / "tensor.py", "SOLUTION")
    source = tmp_path / "submitted"
    write(source / "notes.md", "mine")
    (source / "tinytorch" / "core").mkdir(parents=True)
    (source / "tinytorch" / "core" / "tensor.py").symlink_to(secret)
    (source / "linked_folder").symlink_to(secret.parent)
    os.mkfifo(source / "fifo")
    write(source / ".git" / "objects" / "x", "git")
    refused = place_submission(source, tmp_path / "out")
    assert sorted(line.split(" ")[0] for line in refused) == ["fifo", "linked_folder", "tinytorch/core/tensor.py"]
    copied = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*"))
    assert copied == ["notes.md", "tinytorch", "tinytorch/core"]
    assert "SOLUTION" not in "".join(p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file())


def test_overlay_takes_the_owned_file_direct_nested_or_by_name(tmp_path):
    for layout in ("tinytorch/core/tensor.py", "repo/tinytorch/core/tensor.py", "a/b/tinytorch/core/tensor.py",
                   "somewhere/else/tensor.py"):
        submission = tmp_path / layout.split("/")[0] / "sub"
        write(submission / layout, f"# {layout}\n")
        tree = tmp_path / layout.split("/")[0] / "tree"
        assert intake.overlay(OWNED, submission, tree) == []
        assert (tree / OWNED[0]).read_text() == f"# {layout}\n"


@pytest.mark.parametrize("link_at", ["file", "core", "tinytorch", "repo"])
def test_overlay_never_follows_a_symlink_at_any_level(tmp_path, link_at):
    solution = write(tmp_path / "checkout" / "reference" / "tinytorch" / "core" / "tensor.py", "SOLUTION")
    submission = tmp_path / "submission"
    submission.mkdir()
    if link_at == "file":
        (submission / "tinytorch" / "core").mkdir(parents=True)
        (submission / "tinytorch" / "core" / "tensor.py").symlink_to(solution)
    elif link_at == "core":
        (submission / "tinytorch").mkdir()
        (submission / "tinytorch" / "core").symlink_to(solution.parent)
    elif link_at == "tinytorch":
        (submission / "tinytorch").symlink_to(solution.parent.parent)
    else:
        (submission / "repo").symlink_to(solution.parents[2])
    tree = tmp_path / "tree"
    write(tree / OWNED[0], "STARTER")
    assert intake.overlay(OWNED, submission, tree) == OWNED
    assert not (tree / OWNED[0]).exists()
    assert intake.refused_entries(submission)


def test_overlay_ignores_a_fifo_at_the_owned_path_without_blocking(tmp_path):
    submission = tmp_path / "submission"
    (submission / "tinytorch" / "core").mkdir(parents=True)
    os.mkfifo(submission / "tinytorch" / "core" / "tensor.py")
    assert intake.overlay(OWNED, submission, tmp_path / "tree") == OWNED
    assert intake.refused_entries(submission) == ["tinytorch/core/tensor.py (a fifo, not taken)"]


def test_copy_regular_refuses_a_file_swapped_for_a_symlink(tmp_path):
    target = write(tmp_path / "secret", "SOLUTION")
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(OSError):
        intake.copy_regular(tmp_path / "link", tmp_path / "copy")
    assert not (tmp_path / "copy").exists()


def test_check_zip_caps_reads_only_the_directory():
    """A declared 3 GiB member in a zip of a few bytes is refused from its header alone."""
    info = zipfile.ZipInfo("huge.bin")
    info.file_size, info.compress_size = 3 * 2**30, 3 * 2**20
    with pytest.raises(RefusedSubmission, match="3072 MiB"):
        intake.check_zip_caps([info], ZipCaps())
