"""The classifier: trained on real codings, saved with its provenance, refused for another codebook."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.classify import load_model, save_model
from pipeline.codebook import load_codebook
from pipeline.coding import assign_codes, prepare, train_model, with_themes
from pipeline.errors import ModelError
from pipeline.nlp import load_nlp
from pipeline.rules import RuleSet

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    codebook = load_codebook(ROOT / "codebook.yaml")
    items = [json.loads(line) for line in (ROOT / "corpus" / "demo" / "gold_codings.jsonl").read_text(encoding="utf-8").splitlines()][:300]
    prepared = prepare([i["text"] for i in items], RuleSet(codebook, load_nlp()))
    model = train_model(codebook, prepared, [set(i["codes"]) for i in items])
    path = tmp_path_factory.mktemp("model") / "m.pkl"
    save_model(model, path)
    return codebook, prepared, model, path


def test_model_records_its_provenance(trained):
    codebook, _, model, path = trained
    loaded = load_model(path, codebook)
    assert loaded.codebook_hash == codebook.hash
    assert len(loaded.training_hash) == 16 and loaded.sklearn_version
    assert set(loaded.classifier.thresholds_) == set(loaded.classifier.trained_codes_)
    assert "taal" in loaded.classifier.trained_codes_


def test_model_refuses_a_codebook_with_other_codes(trained, tmp_path):
    _, _, _, path = trained
    data = yaml.safe_load((ROOT / "codebook.yaml").read_text(encoding="utf-8"))
    data["codes"].append({"id": "taal.extra", "parent": "taal", "label": "Extra", "definition": "Nieuw.",
                          "rules": [{"id": "taal.extra.r", "phrases": ["docent"]}]})
    other = tmp_path / "codebook.yaml"
    other.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ModelError) as error:
        load_model(path, load_codebook(other))
    assert "has other codes; rebuild (qcode build) to retrain it for this codebook" in str(error.value)


def test_model_survives_edits_to_definitions_and_rules(trained, tmp_path):
    """The model predicts from text; rules only move a code's thresholds (classify.py)."""
    codebook, prepared, _, path = trained
    data = yaml.safe_load((ROOT / "codebook.yaml").read_text(encoding="utf-8"))
    data["codes"][0]["definition"] += " Gewijzigd."
    data["codes"][0]["rules"][0]["phrases"].append("regierol")
    other = tmp_path / "codebook.yaml"
    other.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    edited = load_codebook(other)
    assert load_model(path, edited).codebook_hash == codebook.hash != edited.hash


def test_thresholds_follow_the_rules():
    from pipeline.classify import best_thresholds

    truth = np.array([1, 1, 1, 0, 0, 0, 1, 0])
    scores = np.array([0.3, 0.35, 0.9, 0.2, 0.25, 0.1, 0.8, 0.6])
    reliable_rule = np.array([1, 1, 0, 0, 0, 0, 0, 0], dtype=bool)      # fires on true positives only
    with_rule, without_rule = best_thresholds(truth, scores, reliable_rule)
    assert with_rule <= 0.3 < 0.6 < without_rule <= 0.8
    # Without the rule the low-scoring positives can only be caught by a low threshold for all.
    assert best_thresholds(truth, scores, np.zeros(8, dtype=bool))[1] <= 0.3


def test_assignments_respect_the_hierarchy(trained):
    codebook, prepared, model, _ = trained
    for assignments in assign_codes(codebook, prepared, model):
        codes = {a.code_id for a in assignments}
        assert with_themes(codebook, codes) == codes          # a sub-code always comes with its theme
        assert all(a.source in ("rule", "classifier") and 0 <= a.score <= 1 for a in assignments)
        assert all(a.rule_id for a in assignments if a.source == "rule")


def test_a_theme_comes_with_a_sub_code_or_its_own_rule(trained):
    codebook, prepared, model, _ = trained
    alone = 0
    for assignments, hits in zip(assign_codes(codebook, prepared, model), prepared.hits):
        codes = {a.code_id for a in assignments}
        for theme in codes & set(codebook.themes):
            if not any(codebook.theme_of(c) == theme for c in codes - {theme}):
                assert theme in {h.code_id for h in hits}       # the theme's own rule fired
                alone += 1
    assert alone < len(prepared.hits) / 10


def test_a_gate_keeps_a_code_from_segments_it_cannot_be_assigned_to():
    from pipeline.classify import best_thresholds

    truth = np.array([1, 1, 0, 0, 0, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.2])
    none = np.zeros(6, dtype=bool)
    assert 0.7 < best_thresholds(truth, scores, none)[1] <= 0.8
    # Where the code cannot be assigned (its theme fails, say), the negatives scoring 0.5-0.7 no
    # longer count against a lower threshold: the best one drops to catch the positive at 0.2.
    gate = np.array([True, True, False, False, False, True])
    assert best_thresholds(truth, scores, none, gate)[1] <= 0.2


def test_a_model_of_another_format_is_refused_with_what_to_do(trained, tmp_path):
    import pickle

    from pipeline.classify import MODEL_FORMAT

    codebook, _, model, _ = trained
    old = tmp_path / "old.pkl"
    model.format = MODEL_FORMAT - 1
    try:
        old.write_bytes(pickle.dumps(model))
    finally:
        model.format = MODEL_FORMAT
    with pytest.raises(ModelError) as error:
        load_model(old, codebook)
    assert f"not a qcode model file of format {MODEL_FORMAT}" in str(error.value)
    assert "rebuild (qcode build)" in str(error.value)


def test_naive_bayes_scaling_favours_the_words_of_the_code():
    from scipy.sparse import csr_matrix

    from pipeline.classify import NBLogisticRegression

    # Feature 0 occurs only with the code, feature 1 everywhere, feature 2 only without it.
    X = csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [1, 0, 0], [0, 1, 1], [0, 1, 1], [0, 0, 1]], dtype=float))
    y = np.array([1, 1, 1, 0, 0, 0])
    model = NBLogisticRegression(C=1.0).fit(X, y)
    assert model.ratio_[0] > 0 > model.ratio_[2]
    assert model.coef_[0, 0] > 0 > model.coef_[0, 2]
    scores = model.predict_proba(csr_matrix(np.array([[1, 0, 0], [0, 0, 1]], dtype=float)))[:, 1]
    assert scores[0] > 0.5 > scores[1]
    assert list(model.predict(X)) == list(y)


def test_the_codes_descriptions_are_training_text_labelled_with_code_and_theme():
    from pipeline.coding import code_descriptions

    codebook = load_codebook(ROOT / "codebook.yaml")
    texts, code_sets = code_descriptions(codebook)
    wachttijd = codebook.by_id["snel_meedoen.wachttijd"]
    i = texts.index(wachttijd.definition)
    assert code_sets[i] == {"snel_meedoen.wachttijd", "snel_meedoen"}
    assert code_sets[texts.index(wachttijd.examples[0])] == code_sets[i]
    assert all(text.strip() for text in texts)


def test_an_edited_definition_retrains_but_an_edited_rule_does_not(trained, tmp_path):
    from pipeline.coding import model_training_hash

    codebook, prepared, model, _ = trained
    data = yaml.safe_load((ROOT / "codebook.yaml").read_text(encoding="utf-8"))
    data["codes"][0]["rules"][0]["phrases"].append("regierol")
    ruled = tmp_path / "ruled.yaml"
    ruled.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    data["codes"][0]["definition"] += " Ook: wie de uitvoering stuurt."
    defined = tmp_path / "defined.yaml"
    defined.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    code_sets = [set(json.loads(line)["codes"]) for line in
                 (ROOT / "corpus" / "demo" / "gold_codings.jsonl").read_text(encoding="utf-8").splitlines()[:300]]
    assert model_training_hash(codebook, prepared, code_sets) == model.training_hash
    assert model_training_hash(load_codebook(ruled), prepared, code_sets) == model.training_hash
    assert model_training_hash(load_codebook(defined), prepared, code_sets) != model.training_hash
