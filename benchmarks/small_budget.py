"""Short searches: how close the default strategy gets with a few thousand evaluations.

For each chosen layer on the reference 168-PE accelerator and each of ``--seeds`` seeds, run
the default strategy with ``--budget`` evaluations (one run, no islands below 32,000) and
compare its latency with the layer's best-known valid mapping: the best stored dataflow of
the ``--known`` result files of ``tune_quality.py`` (re-evaluated with today's cost model,
matched by layer shape, so a layer that repeats an earlier shape finds its reference).

    python benchmarks/small_budget.py --seeds 16 --seed-start 0

Prints one line per layer and the share of runs within 1% of the best-known.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from mapper.tuning.settings import TuneSettings  # noqa: E402
from mapper.tuning.tuner import tune_layer  # noqa: E402
from mapper.workloads.presets import HARDWARE_PRESETS  # noqa: E402
from mapper.workloads.zoo import load_model  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune_quality import read_known  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
# three networks' layers of every kind: early, middle and late 3x3 and 1x1 convolutions, a
# 7x7 first layer, VGG's large layers and MobileNetV2's expansion and depthwise layers
LAYERS = ("resnet50:CONV2_1_1,CONV2_1_2,CONV3_2_2,CONV4_2_1,CONV5_2_2,CONV1,CONV3_1_3,"
          "CONV4_1_1;vgg16:CONV2,CONV5,CONV9,CONV13;mobilenetv2:Bottleneck2_1_2,"
          "Bottleneck3_2_2,Bottleneck5_2_2,Bottleneck4_1_1")


def _shape(layer) -> tuple:
    return layer.type, tuple(sorted(layer.dims.items())), tuple(sorted(layer.strides.items()))


def best_known(paths: list[str], targets: list[tuple[str, object]], hw) -> dict:
    """Best valid latency per target layer, from the stored mappings of any layer of the
    same model with the same shape."""
    by_name = {}
    for model in {m for m, _ in targets}:
        by_name.update({(model, lay.name): lay for lay in load_model(model).layers})
    known = read_known(paths, by_name, hw)
    best: dict = {}
    for (model, name), (latency, _) in known.items():
        key = (model, _shape(by_name[(model, name)]))
        best[key] = min(best.get(key, float("inf")), latency)
    return {(m, lay.name): best.get((m, _shape(lay))) for m, lay in targets}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", default=LAYERS,
                    help="model:layer,layer;model:layer,... (default: 16 layers)")
    ap.add_argument("--hw", default="edge168")
    ap.add_argument("--budget", type=int, default=4011)
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--seed-start", type=int, default=0)
    ap.add_argument("--known", nargs="*", default=[
        str(RESULTS / f) for f in ("tune_quality_x10.csv", "tune_quality_x100.csv",
                                   "tune_quality.csv")])
    a = ap.parse_args(argv)
    hw = HARDWARE_PRESETS[a.hw]
    targets = []
    for part in filter(None, a.layers.split(";")):
        model, _, names = part.partition(":")
        layers = {lay.name: lay for lay in load_model(model).layers}
        for name in filter(None, names.split(",")):
            if name not in layers:
                ap.error(f"--layers: {model} has no layer {name!r}")
            targets.append((model, layers[name]))
    best = best_known(a.known, targets, hw)
    t0 = time.perf_counter()
    ratios = []
    for model, layer in targets:
        ref = best[(model, layer.name)]
        if ref is None:
            print(f"{model} {layer.name}: no valid stored mapping of this shape; skipped",
                  file=sys.stderr)
            continue
        runs = [tune_layer(layer, hw, TuneSettings(seed=s, budget=a.budget,
                                                          cost_model="maestro")).best_fitness
                for s in range(a.seed_start, a.seed_start + a.seeds)]
        r = np.array(runs) / ref
        ratios.append(r)
        print(f"{model} {layer.name}: best-known {ref:,.0f}, mean ratio {r.mean():.4f}, "
              f"within 1%: {(r <= 1.01).sum()}/{len(r)}", flush=True)
    r = np.concatenate(ratios)
    print(f"budget {a.budget:,}, seeds {a.seed_start}-{a.seed_start + a.seeds - 1}: "
          f"{(r <= 1.01).sum()}/{len(r)} runs within 1% of the best-known, mean ratio "
          f"{r.mean():.4f}, {time.perf_counter() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
