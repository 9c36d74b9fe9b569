"""Gradescope's "Export Submissions" zip as a submissions folder for ``make grade-batch``.

The export holds one top folder (``assignment_<id>_export/``) with ``submission_metadata.yml``
and one ``submission_<id>/`` folder of the student's files per submission. The YAML maps each
``submission_<id>`` to Ruby-symbol keys: ``:submitters:`` (a list of ``:name:``, ``:sid:``,
``:email:``), ``:created_at:`` (the submission time), ``:score:`` and ``:history:``; Gradescope
writes some values with ``!ruby/...`` tags, read here as plain data.

Each submission becomes ``DEST/<name>/`` (the first submitter's sid, else their email's local
part, else the submission id) and ``DEST/submission_metadata.json`` records names, emails (all
submitters of a group), the submission time, Gradescope's own score and, when a deadline is
given, ``late``. The report then shows all of it.
"""

from __future__ import annotations

import json
import re
import zipfile
from datetime import datetime
from pathlib import Path, PurePosixPath

import yaml

from coursetools.distribute.roster import parse_deadline

METADATA_FILE = "submission_metadata.yml"
SAFE = re.compile(r"[^A-Za-z0-9._-]")


class ExportError(ValueError):
    """The zip is not a Gradescope submissions export."""


class _RubyTolerantLoader(yaml.SafeLoader):
    """SafeLoader that reads ``!ruby/hash:...``, ``!ruby/object:...`` and the like as plain data."""


def _plain(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_RubyTolerantLoader.add_multi_constructor("!ruby/", _plain)


def read_metadata(text: str) -> dict[str, dict]:
    """The YAML as {submission folder: {submitters, created_at, score}} with the colons dropped."""
    raw = yaml.load(text, Loader=_RubyTolerantLoader) or {}
    if not isinstance(raw, dict):
        raise ExportError(f"{METADATA_FILE} is not a mapping of submission folders")
    return {folder: {str(k).lstrip(":"): v for k, v in (record or {}).items()} for folder, record in raw.items()}


def student_name(folder: str, record: dict) -> str:
    submitters = record.get("submitters") or [{}]
    first = {str(k).lstrip(":"): v for k, v in submitters[0].items()}
    name = str(first.get("sid") or str(first.get("email") or "").split("@")[0] or folder)
    return SAFE.sub("_", name)


def import_export(export: Path, dest: Path, deadline: datetime | None = None) -> dict[str, dict]:
    """Unpack the export into dest (one folder per submission); returns and writes the metadata."""
    if dest.is_dir() and any(dest.iterdir()) and not (dest / "submission_metadata.json").is_file():
        raise ExportError(f"{dest} already holds files that no import wrote; give an empty or new folder")
    if not zipfile.is_zipfile(export):
        raise ExportError(f"{export} is not a zip; download it with Gradescope's Export Submissions")
    with zipfile.ZipFile(export) as zf:
        names = [n for n in zf.namelist() if PurePosixPath(n).name == METADATA_FILE and "__MACOSX" not in n]
        if len(names) != 1:
            raise ExportError(f"{export} has {len(names)} {METADATA_FILE} files, not one: is it Gradescope's "
                              "Export Submissions zip (not a single submission's download)?")
        root = PurePosixPath(names[0]).parent
        records = read_metadata(zf.read(names[0]).decode("utf-8"))
        metadata = {}
        for folder, record in records.items():
            name = student_name(folder, record)
            if name in metadata:
                name = f"{name}_{SAFE.sub('_', folder)}"
            _extract_folder(zf, root / folder, dest / name)
            metadata[name] = _record(folder, record, deadline)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "submission_metadata.json").write_text(json.dumps(metadata, indent=1), encoding="utf-8")
    return metadata


def _record(folder: str, record: dict, deadline: datetime | None) -> dict:
    submitters = [{str(k).lstrip(":"): v for k, v in s.items()} for s in record.get("submitters") or []]
    created = record.get("created_at")
    moment = created if isinstance(created, datetime) else _parse_time(created)
    found = {"status": "collected", "gradescope_submission": folder,
             "name": " & ".join(str(s.get("name", "")) for s in submitters),
             "email": ", ".join(str(s.get("email", "")) for s in submitters if s.get("email")),
             "sids": [str(s.get("sid", "")) for s in submitters],
             "submitted_at": moment.isoformat() if moment else None,
             "gradescope_score": record.get("score")}
    if deadline is not None and moment is not None:
        found["deadline"] = deadline.isoformat()
        found["late"] = moment > deadline
    return found


def _parse_time(value) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace(" ", "T", 1).replace(" ", ""))
    except ValueError:
        return None


def _extract_folder(zf: zipfile.ZipFile, folder: PurePosixPath, dest: Path) -> None:
    prefix = f"{folder.as_posix()}/"
    for info in zf.infolist():
        if info.is_dir() or not info.filename.startswith(prefix):
            continue
        relative = PurePosixPath(info.filename[len(prefix):])
        if relative.is_absolute() or ".." in relative.parts:
            raise ExportError(f"{info.filename} points outside its submission folder; refusing the export")
        target = dest / Path(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(zf.read(info))
    dest.mkdir(parents=True, exist_ok=True)


def main(*, export: str, dest: str, deadline: str | None = None) -> dict:
    found = import_export(Path(export), Path(dest), parse_deadline(deadline) if deadline else None)
    print(f"{len(found)} submissions from {export} into {dest} (grade them: make grade-batch SUBMISSIONS={dest})")
    return found


def register(verbs) -> None:
    """The ``import-gradescope`` verb of ``python -m coursetools``."""
    verb = verbs.add_parser("import-gradescope", help="Gradescope's Export Submissions zip as a submissions folder")
    verb.add_argument("--export", required=True, help="the zip from Gradescope's Export Submissions")
    verb.add_argument("--dest", required=True, help="the submissions folder to write (then make grade-batch)")
    verb.add_argument("--deadline", help="ISO 8601 with timezone: marks each submission late or on time")
    verb.set_defaults(run=lambda a: main(export=a.export, dest=a.dest, deadline=a.deadline))
