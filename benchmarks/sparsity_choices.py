"""Sparsity features as hardware choices: tune layers under every weight format x compute action
(mapper.tuning.sparsity_choices) and rank the choices; prints one table per layer.

Usage: python benchmarks/sparsity_choices.py [--budget 4000] [--objective latency]

Layers: BERT-base FFN1 with 2:4 weights (bert_base_sparse24) and a ResNet-50 3x3 conv with
random weight density (resnet50_sparse), on the 256-PE docs/examples/dense_accel.yaml.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel import Network  # noqa: E402
from costmodel.io import load_hardware_any  # noqa: E402
from costmodel.sparsity import hardware_choices  # noqa: E402
from mapper.tuning.settings import TuneSettings  # noqa: E402
from mapper.tuning.sparsity_choices import describe, tune_sparsity_choices  # noqa: E402
from mapper.workloads.zoo import load_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LAYERS = (("bert_base_sparse24", "FFN1"), ("resnet50_sparse", "CONV4_2_2"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=4000)
    ap.add_argument("--objective", default="latency", choices=("latency", "energy", "edp"))
    a = ap.parse_args()
    hw = load_hardware_any(ROOT / "docs/examples/dense_accel.yaml")
    settings = TuneSettings(budget=a.budget, jobs=1, objective=a.objective, islands=1,
                            extra_islands=0, cost_model="physical")
    choices = hardware_choices(("weight",), ("dense", "bitmask", "coordinate", "rle", "nm"),
                               ("skip", "gate", "none"))
    for model, name in LAYERS:
        layer = next(lay for lay in load_model(model).layers if lay.name == name)
        dens = {t: str(d) for t, d in layer.density.items()}
        t0 = time.perf_counter()
        ranked = tune_sparsity_choices(Network(f"{model}/{name}", [layer]), hw, settings, choices)
        print(f"\n== {model}/{name} {dict(layer.dims)} densities {dens}: {len(choices)} choices, "
              f"budget {a.budget} each, objective {a.objective}, "
              f"{time.perf_counter() - t0:.0f} s ==")
        print(f"{'choice':34s} {'cycles':>10s} {'energy nJ':>12s} {'eff. MACs':>12s}")
        for c in ranked:
            if c.result is None:
                print(f"{describe(c.sparsity):34s} not applicable: {c.reason}")
                continue
            rep = c.result.layers[0].report
            print(f"{describe(c.sparsity):34s} {rep.runtime:10,d} {rep.energy_nj:12,.0f} "
                  f"{rep.effectual_macs:12,d}")


if __name__ == "__main__":
    main()
