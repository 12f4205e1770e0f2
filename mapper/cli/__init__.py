"""The ``mapper`` command line: subcommands, and one place that turns errors into messages."""

from __future__ import annotations

import argparse
import sys

from costmodel.errors import MaestroInputError
from mapper.cli import compare, evaluate, models, tune

# one module per subcommand, each with ``add_parser(subparsers)``; the order is the help's order
COMMANDS = [evaluate, tune, models, compare]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mapper",
        description="MAESTRO-exact cost model and dataflow/hardware search for DNN accelerators.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for mod in COMMANDS:
        mod.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except MaestroInputError as e:
        print(f"mapper {args.command}: error: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"mapper {args.command}: error: file not found: {e.filename}", file=sys.stderr)
        return 2
    except IsADirectoryError as e:
        print(f"mapper {args.command}: error: expected a file, got a directory: {e.filename}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mapper {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
