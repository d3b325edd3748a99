"""How coding quality grows with the number of manually coded segments (a learning curve).

    python bench/learning_curve.py [--gold corpus/demo/gold_codings.jsonl] [--seeds 2]

For each fraction of the training folds (25, 50, 75, 100%), `qcode evaluate`'s 5-fold
cross-validation (pipeline.evaluate.evaluate_split), averaged over seeds. Prints theme micro-F1,
mean and lowest theme kappa and sub-code macro-F1, and where a straight line through the curve
(in log size) reaches the coding targets. Not part of the tests.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.evaluate import evaluate_split, load_gold_set  # noqa: E402

FOLDS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, default=ROOT / "corpus" / "demo" / "gold_codings.jsonl")
    parser.add_argument("--codebook", type=Path, default=ROOT / "codebook.yaml")
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    items = [json.loads(line) for line in args.gold.open(encoding="utf-8") if line.strip()]
    gold_set = load_gold_set(items, args.codebook)       # spaCy and the rules run once, not per split
    print(f"{len(items)} gold segments, {FOLDS}-fold cross-validation, {args.seeds} seeds")
    print(f"{'training segments':>18}{'theme micro-F1':>16}{'theme kappa':>13}{'kappa min':>11}{'sub-code macro-F1':>19}")
    curve = []
    for fraction in (0.25, 0.5, 0.75, 1.0):
        figures = []
        for seed in range(args.seeds):
            report = evaluate_split(gold_set, FOLDS, random_state=seed, train_fraction=fraction)
            kappas = [m["kappa"] for m in report["themes"]["per_code"].values()]
            figures.append((report["themes"]["micro_f1"], sum(kappas) / len(kappas), min(kappas),
                            report["sub_codes"]["macro_f1"]))
        micro, kappa, kappa_min, macro = np.mean(figures, axis=0)
        size = int(report["scored"] * (FOLDS - 1) / FOLDS * fraction)
        curve.append((size, micro, kappa_min))
        print(f"{size:>18}{micro:>16.3f}{kappa:>13.3f}{kappa_min:>11.3f}{macro:>19.3f}")
    print(extrapolation(curve))


def extrapolation(curve: list[tuple[int, float, float]]) -> str:
    """A straight line through the curve in log2(training segments): the gain per doubling, and
    where that line reaches the coding issue's targets. Learning curves flatten, so the sizes are
    lower bounds, not forecasts."""
    doublings = np.log2([size for size, *_ in curve])
    lines = []
    for column, name, target in ((1, "theme micro-F1", 0.90), (2, "theme kappa min", 0.80)):
        slope, intercept = np.polyfit(doublings, [point[column] for point in curve], 1)
        needed = 2 ** ((target - intercept) / slope) if slope > 0 else float("inf")
        lines.append(f"{name}: {slope:+.3f} per doubling of the training segments; on that line {target:.2f} "
                     f"at about {needed:,.0f} training segments")
    return "\n".join(lines + ["(a straight line in log size; learning curves flatten, so read the sizes as lower bounds)"])

if __name__ == "__main__":
    main()
