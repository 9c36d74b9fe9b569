"""How tito prints: rich tables in a terminal, plain text when piped, one JSON document with --json.

Commands describe what they found (``table``, ``say``) and hand their data to ``data``; the
Output object decides how much of that reaches the screen.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager


def _rich_available() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


class Output:
    """One command's output channel."""

    def __init__(self, *, as_json: bool = False, stream=None):
        self.as_json = as_json
        self.stream = stream or sys.stdout
        self.rich = not as_json and self.stream.isatty() and _rich_available()
        self._console = None

    @property
    def console(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.stream)
        return self._console

    def say(self, text: str, style: str | None = None) -> None:
        """A line for people (nothing in JSON mode)."""
        if self.as_json:
            return
        if self.rich:
            self.console.print(text, style=style, highlight=False, markup=False)
        else:
            print(text, file=self.stream)

    def table(self, title: str, columns: list[str], rows: list[list], styles: list[str | None] | None = None) -> None:
        """A table: rich in a terminal, aligned plain columns otherwise (nothing in JSON mode)."""
        if self.as_json:
            return
        cells = [[_cell(v) for v in row] for row in rows]
        if self.rich:
            from rich.table import Table

            table = Table(title=title)
            for column in columns:
                table.add_column(column)
            for index, row in enumerate(cells):
                table.add_row(*row, style=(styles or [None] * len(cells))[index])
            self.console.print(table)
            return
        widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
        print(title, file=self.stream)
        for row in [columns, *cells]:
            print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip(), file=self.stream)

    def data(self, payload: dict) -> None:
        """The command's result as one JSON document (only in JSON mode)."""
        if self.as_json:
            print(json.dumps(payload, indent=1, default=str), file=self.stream)

    def warn(self, message: str) -> None:
        """A warning: stderr in every mode (commands also put their warnings in their JSON data)."""
        print(f"tito: warning: {message}", file=sys.stderr)

    def error(self, message: str) -> None:
        """Errors go to stderr in every mode, so piped JSON stays parseable."""
        print(f"tito: error: {message}", file=sys.stderr)

    @contextmanager
    def progress(self, total: int, description: str):
        """Yields ``advance(text)``: a rich bar in a terminal, a line per step when piped, silent in JSON."""
        if self.rich:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("{task.fields[info]}"), console=self.console) as bar:
                task = bar.add_task(description, total=total, info="")
                yield lambda text="": bar.update(task, advance=1, info=text)
            return
        done, every = [0], max(1, total // 10)

        def advance(text: str = "") -> None:
            done[0] += 1
            if done[0] % every == 0 or done[0] == total:  # about ten lines, however long the work
                self.say(f"[{done[0]}/{total}] {description}: {text}")

        yield advance

    @contextmanager
    def captured_stdout(self):
        """Keep what child processes print on stdout; yields a list that holds the text afterwards."""
        import tempfile

        sys.stdout.flush()
        held: list[str] = []
        saved = os.dup(1)
        with tempfile.TemporaryFile(mode="w+b") as buffer:
            os.dup2(buffer.fileno(), 1)
            try:
                yield held
            finally:
                sys.stdout.flush()
                os.dup2(saved, 1)
                os.close(saved)
                buffer.seek(0)
                held.append(buffer.read().decode("utf-8", errors="replace"))

    @contextmanager
    def quiet_stdout(self):
        """In JSON mode, send what child processes print to stderr so stdout holds only the JSON."""
        if not self.as_json:
            yield
            return
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)
