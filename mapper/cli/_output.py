"""Output side of the CLI: output paths checked before any work, a lock against two runs
writing one directory, and progress lines that suit both terminals and log files."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from costmodel.errors import MaestroInputError


def _usage(message: str) -> MaestroInputError:
    return MaestroInputError(message, rule="usage")


def _file_above(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` if it is not a directory."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def prepare_out_dir(path: str | Path, option: str = "--out") -> Path:
    """Create the output directory and check that it is writable, before any search runs."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise _usage(f"{option} {path} is not a directory")
    blocker = _file_above(p)
    if blocker is not None:
        raise _usage(f"{option} {path} lies under {blocker}, which is a file, not a directory")
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=p, prefix=".write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise _usage(f"{option} {path} is not writable ({e.strerror or e})") from None
    return p


def check_out_file(path: str | Path, option: str = "--out") -> Path:
    """Check that the file ``path`` can be written (its folder exists or can be made, and is
    writable; ``path`` is not a directory) before any work."""
    p = Path(path)
    if p.is_dir():
        raise _usage(f"{option} {path} is a directory; expected a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise _usage(f"{option} {path} lies under {parent}, which is a file, not a directory")
    prepare_out_dir(parent, f"{option} {path}: folder")
    if p.exists() and not os.access(p, os.W_OK):
        raise _usage(f"{option} {path} is not writable (permission denied)")
    return p


@contextmanager
def out_lock(out_dir: Path, option: str = "--out") -> Iterator[None]:
    """Hold ``out_dir/.lock`` for the run: a second run on the same folder stops at once
    instead of repeating the work and overwriting the first one's files."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        yield
        return
    path = out_dir / ".lock"
    f = open(path, "a+")  # noqa: SIM115 - held open for the whole run
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            pid = f.read().strip() or "?"
            raise _usage(f"{option} {out_dir} is in use by another mapper run (pid {pid}); "
                         f"wait for it to finish or choose another {option}") from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        yield
    finally:
        f.close()


class Progress:
    """Per-layer progress on stderr: one line rewritten with ``\\r`` on a terminal, one line
    per finished layer otherwise (logs), with elapsed time and an estimate of what remains."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False,
                 tty: bool | None = None):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty() if tty is None else tty
        self.t0 = time.perf_counter()
        self.open = False  # a partial line is on the terminal
        CURRENT[:] = [self]

    def layer(self, done: int, total: int, name: str) -> None:
        """Report that ``done`` of ``total`` distinct layers are finished (``name`` last)."""
        if self.quiet:
            return
        t = time.perf_counter() - self.t0
        eta = f", ~{t / done * (total - done):.0f}s left" if 0 < done < total else ""
        text = f"[{done}/{total} distinct layers] {name:<24} {t:6.1f}s{eta}"
        if self.tty:
            self.stream.write(f"\r{text:<72}")
            self.open = done < total
            if not self.open:
                self.stream.write("\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line of its own (never glued to a progress line)."""
        if self.quiet:
            return
        self.end_line()
        self.stream.write(text + "\n")
        self.stream.flush()

    def end_line(self) -> None:
        """Finish a pending progress line, e.g. before an error or interruption message."""
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False


#: the progress display of the running command, so errors can end its line first
CURRENT: list[Progress] = []


def end_progress_line() -> None:
    """End the running command's partial progress line, if any."""
    for p in CURRENT:
        p.end_line()
