"""The ``mapper`` command line: subcommands, and one place that turns errors into messages.

Exit status: 0 success; 1 a run finished but some layer has no feasible mapping (tune);
2 bad input or usage (one line on stderr, no traceback); 3 output written but some layer is
flagged invalid (evaluate); 130/143 interrupted by SIGINT/SIGTERM.
"""

from __future__ import annotations

import os
import signal
import sys

from costmodel.errors import MaestroInputError
from mapper.cli import compare, evaluate, models, tune
from mapper.cli._options import Parser
from mapper.cli._output import end_progress_line
from mapper.scheduling import command as schedule

# one module per subcommand, each with ``add_parser(subparsers)``; the order is the help's order
COMMANDS = [evaluate, tune, models, compare, schedule]

#: set MAPPER_DEBUG=1 to get the traceback of an unexpected error instead of one line
DEBUG_ENV = "MAPPER_DEBUG"


def build_parser() -> Parser:
    p = Parser(
        prog="mapper",
        description="MAESTRO-exact cost model and dataflow/hardware search for DNN accelerators.",
        epilog="Exit status: 0 success, 1 some layer has no feasible mapping (tune), 2 bad "
        "input or usage, 3 output written but some layer is flagged invalid (evaluate), "
        "130 interrupted.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for mod in COMMANDS:
        mod.add_parser(sub)
    return p


class _Terminated(KeyboardInterrupt):
    """SIGTERM, unwound like Ctrl-C so that worker pools shut down cleanly."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def _error_line(command: str, e: BaseException) -> str | None:
    """The one-line message for an expected error, or None for a bug."""
    if isinstance(e, MaestroInputError):
        return str(e)
    if isinstance(e, IsADirectoryError):
        return f"expected a file, got a directory: {e.filename}"
    if isinstance(e, FileNotFoundError):
        return f"file not found: {e.filename}"
    if isinstance(e, OSError):
        where = f"{e.filename}: " if e.filename else ""
        return f"{where}{e.strerror or e}"
    if isinstance(e, (ValueError, ImportError)):
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already printed on one line
        return e.code if isinstance(e.code, int) else 2
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt as e:
        end_progress_line()
        term = isinstance(e, _Terminated)
        hint = ("; finished work is kept and a rerun with the same options resumes"
                if args.command in ("tune", "compare") else "")
        print(f"mapper {args.command}: {'terminated' if term else 'interrupted'}{hint}",
              file=sys.stderr)
        return 143 if term else 130
    except Exception as e:
        line = _error_line(args.command, e)
        if line is None or os.environ.get(DEBUG_ENV):
            raise
        end_progress_line()
        print(f"mapper {args.command}: error: {line}", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
