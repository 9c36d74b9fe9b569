"""The TinyMLPerf leaderboard page, built from submission JSON files.

A submission is what ``python -m tinytorch.bench EVENT --out FILE`` writes (module 19's
``SUBMISSION_SCHEMA``). Every file is checked against that schema with module 19's own
validator; a file that fails is listed with its errors and never ranked. Per event, valid
submissions (quality at or above the event's floor) are ranked by throughput; submissions
below the floor are shown unranked, because speed bought with a broken model does not count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tinytorch.bench import EVENTS, validate_submission


@dataclass(frozen=True)
class Entry:
    name: str
    """Who submitted: the file's name without .json (a student id, or the course's baseline)."""
    data: dict


@dataclass(frozen=True)
class Rejected:
    name: str
    errors: tuple[str, ...]


def read_submissions(folders: list[Path]) -> tuple[list[Entry], list[Rejected]]:
    """Every ``*.json`` of the folders, sorted by name, split into schema-valid and rejected files."""
    entries, rejected = [], []
    for path in sorted(p for folder in folders if folder.is_dir() for p in folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            rejected.append(Rejected(path.stem, (f"not JSON: {error}",)))
            continue
        errors = validate_submission(data)
        if errors:
            rejected.append(Rejected(path.stem, tuple(errors)))
        else:
            entries.append(Entry(path.stem, data))
    return entries, rejected


def ranked(entries: list[Entry], event: str) -> list[Entry]:
    """The event's entries: valid ones by throughput (fastest first), then those below the floor."""
    mine = [e for e in entries if e.data["event"] == event]
    valid = sorted((e for e in mine if e.data["valid"]), key=lambda e: -e.data["throughput"]["samples_per_s"])
    return valid + sorted((e for e in mine if not e.data["valid"]), key=lambda e: e.name)


def megabytes(count: int) -> str:
    return f"{count / 1e6:.2f} MB"


def entry_row(rank: str, entry: Entry) -> str:
    d = entry.data
    quality = f"{d['quality']['value']:.1%}" + ("" if d["valid"] else " (below floor)")
    return (f"| {rank} | {entry.name} | {d['model']['name']}, {d['model']['parameters']:,} parameters | {quality} "
            f"| {d['latency_ms']['p50']:.3f} / {d['latency_ms']['p99']:.3f} "
            f"| {d['throughput']['samples_per_s']:,.0f} | {megabytes(d['memory']['model_bytes'])} / "
            f"{megabytes(d['memory']['peak_inference_bytes'])} | {d['system']['cpu_count']} |")


def leaderboard_page(entries: list[Entry], rejected: list[Rejected]) -> str:
    lines = ["# TinyMLPerf leaderboard", "",
             "Every submission is a JSON file written by `python -m tinytorch.bench EVENT --out FILE` (module 19) "
             "and checked against its schema. Within an event, submissions whose quality reaches the floor are "
             "ranked by throughput at the event's batch size; latency is per single query (batch 1), memory is "
             "the model's bytes and the peak allocated by one inference batch.", ""]
    for name, spec in EVENTS.items():
        rows = ranked(entries, name)
        lines += [f"## {name}", "",
                  f"{spec.dataset}, {spec.metric.replace('_', ' ')} on {spec.eval_samples:,} fixed evaluation samples, "
                  f"floor {spec.floor:.0%}, throughput batch {spec.batch_size}.", ""]
        if not rows:
            lines += ["No submissions yet.", ""]
            continue
        lines += ["| rank | submission | model | quality | latency p50 / p99 (ms) | samples/s | "
                  "memory: model / peak | CPUs |", "|---:|---|---|---:|---:|---:|---:|---:|"]
        valid = [e for e in rows if e.data["valid"]]
        lines += [entry_row(str(i) if e in valid else "–", e) for i, e in enumerate(rows, start=1)]
        lines.append("")
    if rejected:
        lines += ["## Rejected files", "", "These files do not match the submission schema and are not ranked.", ""]
        lines += [f"- **{r.name}**: " + "; ".join(r.errors[:5]) for r in rejected]
        lines.append("")
    return "\n".join(lines)
