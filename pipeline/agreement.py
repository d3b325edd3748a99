"""Agreement between two codings of the same segments: per code Cohen's kappa, percentage
agreement and Krippendorff's alpha, plus precision/recall/F1 when one side is the gold standard.

Agreement is computed per segment and per code (is code c on segment s: yes/no), never per
character, which would inflate it with the long stretches both coders leave uncoded.
"""

from __future__ import annotations

from collections import Counter


def confusion(gold: list[bool], other: list[bool]) -> tuple[int, int, int, int]:
    tp = sum(1 for g, o in zip(gold, other) if g and o)
    fp = sum(1 for g, o in zip(gold, other) if not g and o)
    fn = sum(1 for g, o in zip(gold, other) if g and not o)
    tn = len(gold) - tp - fp - fn
    return tp, fp, fn, tn


def cohen_kappa(a: list[bool], b: list[bool]) -> float:
    """Cohen's kappa for two binary ratings of the same units."""
    n = len(a)
    if n == 0:
        return float("nan")
    tp, fp, fn, tn = confusion(a, b)
    observed = (tp + tn) / n
    p_a, p_b = (tp + fn) / n, (tp + fp) / n
    expected = p_a * p_b + (1 - p_a) * (1 - p_b)
    if expected == 1:
        return 1.0 if observed == 1 else 0.0
    return (observed - expected) / (1 - expected)


def krippendorff_alpha_nominal(units: list[list]) -> float:
    """Krippendorff's alpha (nominal) for units each rated by two or more coders (no missing values
    inside a unit; units with fewer than two ratings are ignored)."""
    coincidences: Counter = Counter()
    for values in units:
        m = len(values)
        if m < 2:
            continue
        for i, c in enumerate(values):
            for j, k in enumerate(values):
                if i != j:
                    coincidences[(c, k)] += 1 / (m - 1)
    n_c: Counter = Counter()
    for (c, _), count in coincidences.items():
        n_c[c] += count
    n = sum(n_c.values())
    if n <= 1:
        return float("nan")
    observed = sum(count for (c, k), count in coincidences.items() if c != k)
    expected = sum(n_c[c] * n_c[k] for c in n_c for k in n_c if c != k) / (n - 1)
    if expected == 0:
        return 1.0
    return 1 - observed / expected


def compare_codings(gold: list[set[str]], other: list[set[str]], code_ids: list[str]) -> dict:
    """Per code: precision, recall, F1, kappa, percentage agreement, alpha; plus macro/micro F1."""
    per_code = {}
    total_tp = total_fp = total_fn = 0
    for code in code_ids:
        g = [code in s for s in gold]
        o = [code in s for s in other]
        tp, fp, fn, tn = confusion(g, o)
        total_tp, total_fp, total_fn = total_tp + tp, total_fp + fp, total_fn + fn
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_code[code] = {
            "support": tp + fn, "precision": precision, "recall": recall, "f1": f1,
            "kappa": cohen_kappa(g, o), "agreement": (tp + tn) / len(g) if g else float("nan"),
            "alpha": krippendorff_alpha_nominal([[x, y] for x, y in zip(g, o)]),
        }
    micro_p = total_tp / (total_tp + total_fp) if total_tp + total_fp else 0.0
    micro_r = total_tp / (total_tp + total_fn) if total_tp + total_fn else 0.0
    micro_f1 = 2 * micro_p * micro_r / (micro_p + micro_r) if micro_p + micro_r else 0.0
    supported = [c for c in code_ids if per_code[c]["support"] > 0]
    return {
        "per_code": per_code,
        "macro_f1": sum(per_code[c]["f1"] for c in supported) / len(supported) if supported else 0.0,
        "micro_f1": micro_f1,
        "alpha_all": krippendorff_alpha_nominal([[code in g, code in o] for g, o in zip(gold, other) for code in code_ids]),
        "segments": len(gold),
    }


def disagreements(ids: list[str], a: list[set[str]], b: list[set[str]]) -> list[dict]:
    out = []
    for segment_id, codes_a, codes_b in zip(ids, a, b):
        if codes_a != codes_b:
            out.append({"segment": segment_id, "only_a": sorted(codes_a - codes_b), "only_b": sorted(codes_b - codes_a)})
    return out
