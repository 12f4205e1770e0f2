"""Compare every search strategy on real layers, at equal budgets and equal time limits.

The same as ``mapper compare`` (see :mod:`mapper.comparison.harness`), writing to
``benchmarks/results/compare`` by default:

    python benchmarks/compare_strategies.py --jobs 2                    # full suite
    python benchmarks/compare_strategies.py --quick --jobs 2            # a few minutes
    python benchmarks/compare_strategies.py --quick --layers 2 --budget 200   # seconds

Outputs: runs.csv (one row per run), summary.md, convergence_evals.png,
convergence_seconds.png, pareto.png/.csv and records.jsonl (resume: re-running the same
command skips finished runs and rewrites the outputs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel.errors import MaestroInputError  # noqa: E402
from mapper.cli.compare import configure, run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    configure(ap, default_out="benchmarks/results/compare")
    args = ap.parse_args(argv)
    try:
        return run(args)
    except (MaestroInputError, ValueError) as e:
        ap.error(str(e))


if __name__ == "__main__":
    sys.exit(main())
