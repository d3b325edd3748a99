"""pipeline/agreement.py: kappa and alpha against hand-computed examples, F1 on a tiny coding."""

from __future__ import annotations

import math

import pytest

from pipeline.agreement import cohen_kappa, compare_codings, confusion, disagreements, krippendorff_alpha_nominal

# 10 segments, two coders, "is code c on this segment?"
#
#              b: yes   b: no
#   a: yes        4        1      (a says yes 5 times)
#   a: no         2        3
#                (b says yes 6 times)
A = [True] * 4 + [True] * 1 + [False] * 2 + [False] * 3
B = [True] * 4 + [False] * 1 + [True] * 2 + [False] * 3


def test_confusion_table():
    assert confusion(A, B) == (4, 2, 1, 3)   # tp, fp, fn, tn with A as gold


def test_cohen_kappa_hand_computed():
    # observed p_o = (4 + 3) / 10 = 0.7
    # expected p_e = P(a yes) P(b yes) + P(a no) P(b no) = 0.5 * 0.6 + 0.5 * 0.4 = 0.5
    # kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4
    assert cohen_kappa(A, B) == pytest.approx(0.4)
    assert cohen_kappa(B, A) == pytest.approx(0.4)


def test_krippendorff_alpha_hand_computed():
    # Coincidence matrix (each unit with 2 values adds 1/(2-1) = 1 to (x, y) and to (y, x)):
    #   o(yes,yes) = 2*4 = 8, o(no,no) = 2*3 = 6, o(yes,no) = o(no,yes) = 1 + 2 = 3
    #   n_yes = 8 + 3 = 11, n_no = 6 + 3 = 9, n = 20
    # alpha = 1 - (n - 1) * (o(yes,no) + o(no,yes)) / (n_yes*n_no + n_no*n_yes)
    #       = 1 - 19 * 6 / 198 = 84 / 198 = 0.42424...
    assert krippendorff_alpha_nominal([[a, b] for a, b in zip(A, B)]) == pytest.approx(84 / 198)


def test_krippendorff_alpha_three_coders_and_missing_values():
    # Units: (1,1,2), (2,2), (1), (1,1). The lone (1) is not pairable and is ignored.
    # o(1,1) = 2/2 + 2 = 3, o(1,2) = o(2,1) = 2/2 = 1, o(2,2) = 2 ; n_1 = 4, n_2 = 3, n = 7
    # alpha = 1 - 6 * 2 / (4*3 + 3*4) = 1 - 12/24 = 0.5
    assert krippendorff_alpha_nominal([[1, 1, 2], [2, 2], [1], [1, 1]]) == pytest.approx(0.5)


def test_perfect_agreement_is_one():
    ratings = [True, False, True, True, False]
    assert cohen_kappa(ratings, ratings) == 1.0
    assert krippendorff_alpha_nominal([[r, r] for r in ratings]) == 1.0
    assert cohen_kappa([False] * 4, [False] * 4) == 1.0           # nobody ever used the code
    assert krippendorff_alpha_nominal([[False, False]] * 4) == 1.0


def test_no_units():
    assert math.isnan(cohen_kappa([], []))
    assert math.isnan(krippendorff_alpha_nominal([]))
    assert math.isnan(krippendorff_alpha_nominal([[True]]))


def test_compare_codings_micro_and_macro_f1():
    gold = [{"a"}, {"a", "b"}, set(), {"b"}]
    other = [{"a"}, {"b"}, {"a"}, set()]
    result = compare_codings(gold, other, ["a", "b", "c"])
    # a: gold T T F F, other T F T F -> tp 1 fp 1 fn 1 tn 1: P = R = F1 = 0.5, kappa 0 (p_o = p_e = 0.5)
    # b: gold F T F T, other F T F F -> tp 1 fp 0 fn 1 tn 2: P 1, R 0.5, F1 2/3,
    #    p_o = 0.75, p_e = 0.5*0.25 + 0.5*0.75 = 0.5, kappa 0.5
    # c: never used: no support, left out of the macro average
    assert result["per_code"]["a"] == pytest.approx({
        "support": 2, "precision": 0.5, "recall": 0.5, "f1": 0.5, "kappa": 0.0, "agreement": 0.5,
        "alpha": krippendorff_alpha_nominal([[True, True], [True, False], [False, True], [False, False]])})
    b = result["per_code"]["b"]
    assert (b["support"], b["precision"], b["recall"]) == (2, 1.0, 0.5)
    assert b["f1"] == pytest.approx(2 / 3)
    assert b["kappa"] == pytest.approx(0.5)
    assert b["agreement"] == 0.75
    assert result["per_code"]["c"]["support"] == 0
    assert result["per_code"]["c"]["f1"] == 0.0
    assert result["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 2)
    # micro: tp 2, fp 1, fn 2 -> P 2/3, R 1/2, F1 = 2 * (1/3) / (7/6) = 4/7
    assert result["micro_f1"] == pytest.approx(4 / 7)
    assert result["segments"] == 4


def test_compare_identical_codings():
    codings = [{"a"}, {"a", "b"}, set()]
    result = compare_codings(codings, codings, ["a", "b"])
    assert (result["macro_f1"], result["micro_f1"], result["alpha_all"]) == (1.0, 1.0, 1.0)
    assert {c: r["kappa"] for c, r in result["per_code"].items()} == {"a": 1.0, "b": 1.0}


def test_disagreements():
    ids = ["s1", "s2", "s3", "s4"]
    a = [{"a"}, {"a", "b"}, set(), {"b"}]
    b = [{"a"}, {"b", "c"}, {"a"}, {"b"}]
    assert disagreements(ids, a, b) == [
        {"segment": "s2", "only_a": ["a"], "only_b": ["c"]},
        {"segment": "s3", "only_a": [], "only_b": ["a"]},
    ]
    assert disagreements(ids, a, a) == []
