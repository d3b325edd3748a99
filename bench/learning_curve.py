"""How coding quality grows with the number of manually coded segments (a learning curve).

    python bench/learning_curve.py [--gold corpus/demo/gold_codings.jsonl] [--seeds 2]

For each fraction of the training folds (25, 50, 75, 100%), 5-fold cross-validation of the whole
rule + classifier pipeline on the segments it codes (not the codebook's uncoded roles), averaged
over seeds. Prints theme micro-F1, mean theme kappa and sub-code macro-F1. Not part of the tests.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np
from sklearn.model_selection import KFold

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.agreement import compare_codings  # noqa: E402
from pipeline.codebook import load_codebook  # noqa: E402
from pipeline.coding import assign_codes, prepare, train_model, with_themes  # noqa: E402
from pipeline.nlp import load_nlp  # noqa: E402
from pipeline.rules import RuleSet  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, default=ROOT / "corpus" / "demo" / "gold_codings.jsonl")
    parser.add_argument("--codebook", type=Path, default=ROOT / "codebook.yaml")
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    codebook = load_codebook(args.codebook)
    items = [json.loads(line) for line in args.gold.open(encoding="utf-8") if line.strip()]
    items = [item for item in items if item.get("role") not in codebook.uncoded_roles]
    gold = [with_themes(codebook, set(item["codes"])) for item in items]
    prepared = prepare([item["text"] for item in items], RuleSet(codebook, load_nlp()))
    sub_codes = [c.id for c in codebook.codes if c.parent]
    print(f"{len(items)} coded gold segments, 5-fold cross-validation, {args.seeds} seeds")
    print(f"{'training segments':>18}{'theme micro-F1':>16}{'theme kappa':>13}{'sub-code macro-F1':>19}")
    for fraction in (0.25, 0.5, 0.75, 1.0):
        figures, size = [], 0
        for seed in range(args.seeds):
            predicted = [set() for _ in items]
            for train, test in KFold(5, shuffle=True, random_state=seed).split(np.arange(len(items))):
                train = list(train)
                random.Random(seed).shuffle(train)
                train = sorted(train[:int(len(train) * fraction)])
                size = len(train)
                model = train_model(codebook, prepared.subset(train), [gold[i] for i in train])
                for i, assignments in zip(test, assign_codes(codebook, prepared.subset(list(test)), model)):
                    predicted[i] = {a.code_id for a in assignments}
            themes = compare_codings(gold, predicted, codebook.themes)
            kappas = [m["kappa"] for m in themes["per_code"].values()]
            figures.append((themes["micro_f1"], sum(kappas) / len(kappas),
                            compare_codings(gold, predicted, sub_codes)["macro_f1"]))
        micro, kappa, macro = np.mean(figures, axis=0)
        print(f"{size:>18}{micro:>16.3f}{kappa:>13.3f}{macro:>19.3f}")


if __name__ == "__main__":
    main()
