"""The ``mapper`` command line: subcommands, and one place that turns errors into messages."""

from __future__ import annotations

import argparse
import sys

from costmodel.errors import MaestroInputError

from .commands import evaluate as cmd_evaluate

COMMANDS = [cmd_evaluate]


def _optional_commands():
    """Subcommands whose modules may pull heavier dependencies, imported on demand."""
    mods = []
    for name in ("tune", "models", "compare"):
        try:
            mods.append(__import__(f"mapper.commands.{name}", fromlist=["add_parser"]))
        except ModuleNotFoundError as e:
            if e.name != f"mapper.commands.{name}":
                raise
    return mods


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mapper",
        description="MAESTRO-exact cost model and dataflow/hardware search for DNN accelerators.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for mod in COMMANDS + _optional_commands():
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
