"""Stage 4b: the multi-label classifier, and how its scores combine with the rules.

Model: a scikit-learn Pipeline over the segment's lemma text: word 1-2-gram and character 3-5-gram
TF-IDF feed one logistic regression per code (one-vs-rest, class-balanced) over naive-Bayes scaled
features (NBLogisticRegression: Wang & Manning 2012, a strong linear baseline for small text
sets). Logistic regression's probabilities are calibrated by its log-loss; the thresholds that
turn them into codings are chosen by cross-validation.

Training data: the manually coded segments, plus the codebook's own description of each code (its
definition, inclusion note and examples, each one text labelled with the code and its theme), so
that the words a code is defined by count before many segments are coded. They are always in
training and never scored: the out-of-fold scores (and so the thresholds) come from manually coded
segments only.

How rules and classifier combine (one rule, documented in the README):
  * With a trained model, each code has two thresholds, chosen together to maximise F1 on the
    model's out-of-fold scores of the manually coded segments: one for segments where one of the
    code's rules fires, one for segments where none does. A code is assigned when its score
    reaches the threshold that applies. So the data decide how far to trust each code's rules (a
    reliable rule gets a low threshold, down to 0: "the rule alone decides"; a rule that fires on
    the wrong segments gets a high one). The coding's source is "rule" (with the rule id) when one
    of the code's rules fired, else "classifier".
  * Without a model (no manual codings yet), or for a code with too few manual codings to learn,
    a code is assigned when one of its rules fires, score 1.0, source "rule".
  * The code tree: a sub-code counts only when its theme's score passes too; a theme with
    sub-codes counts only with one of them or one of its own rules (coders give a theme through
    its sub-codes). The thresholds are chosen for this use (`_choose_in_the_tree`). An assigned
    sub-code brings its ancestors. Manual codings always win over both (see build.py).

Why the rules are not features of the model: then an edit to one code's rules changes only the
thresholds of that code and (through the code tree) of its theme's other codes, recomputed in
milliseconds from the stored out-of-fold scores; the model is not retrained and nothing is
re-scored. (Rule hits as features also scored lower on the demo gold: theme micro-F1 -0.01.) The
model depends on the code tree (`Codebook.tree_hash`), the manual codings and the codes'
descriptions (`coding.model_training_hash`).
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline

from .codebook import Codebook
from .errors import ModelError

MODEL_FORMAT = 4


def text_frame(lemma_texts: list[str]) -> pd.DataFrame:
    """The model's input: one row per segment, its lemma text."""
    return pd.DataFrame({"text": lemma_texts})


class NBLogisticRegression(BaseEstimator, ClassifierMixin):
    """Binary logistic regression over features scaled by their naive-Bayes log-count ratio
    (NBSVM, Wang & Manning 2012, with logistic loss): a feature seen mostly in the code's segments
    weighs more before the regression starts, which helps when there are few examples."""

    def __init__(self, C: float = 8.0, alpha: float = 1.0, random_state: int = 0):
        self.C = C
        self.alpha = alpha          # smoothing of the feature counts
        self.random_state = random_state

    def fit(self, X, y):
        y = np.asarray(y)
        present = (X > 0).astype(np.float64)
        with_code = self.alpha + np.asarray(present[y == 1].sum(axis=0)).ravel()
        without_code = self.alpha + np.asarray(present[y != 1].sum(axis=0)).ravel()
        self.ratio_ = np.log((with_code / with_code.sum()) / (without_code / without_code.sum()))
        self.regression_ = LogisticRegression(C=self.C, class_weight="balanced", solver="liblinear", max_iter=2000,
                                              random_state=self.random_state).fit(self._scaled(X), y)
        self.classes_ = self.regression_.classes_
        return self

    def _scaled(self, X):
        return X.multiply(self.ratio_).tocsr() if hasattr(X, "multiply") else X * self.ratio_

    @property
    def coef_(self) -> np.ndarray:
        """Weights on the unscaled features (for `CodeClassifier.explain`)."""
        return self.regression_.coef_ * self.ratio_

    def predict_proba(self, X) -> np.ndarray:
        return self.regression_.predict_proba(self._scaled(X))

    def predict(self, X) -> np.ndarray:
        return self.regression_.predict(self._scaled(X))


def make_pipeline(C: float = 8.0, random_state: int = 0) -> Pipeline:
    features = ColumnTransformer([
        ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), "text"),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True,
                                  max_features=20000), "text"),
    ])
    # (CalibratedClassifierCV on top tripled training time for no gain in F1 on the demo codings.)
    model = NBLogisticRegression(C=C, random_state=random_state)
    return Pipeline([("features", features), ("model", OneVsRestClassifier(model))])


class CodeClassifier(BaseEstimator, ClassifierMixin):
    """Multi-label classifier over codes; keeps its out-of-fold scores so that the rule-dependent
    thresholds can be chosen again whenever the rules change (`choose_thresholds`)."""

    def __init__(self, code_ids: tuple = (), C: float = 8.0, folds: int = 5, random_state: int = 0,
                 themes: tuple = ()):
        self.code_ids = code_ids
        self.themes = themes        # (code, its theme) pairs: the code tree, for choose_thresholds
        self.C = C
        self.folds = folds
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, Y: np.ndarray, rule_hits: np.ndarray | None = None,
            teaching: tuple[pd.DataFrame, np.ndarray] | None = None) -> "CodeClassifier":
        """Y and rule_hits: one row per segment, one column per code in code_ids (0/1). `teaching`:
        more texts and their labels (the codes' descriptions) that join every training fold but
        are never scored."""
        codes = list(self.code_ids)
        # Codes with too few coded segments cannot be learned; they stay rule-only.
        positives = Y.sum(axis=0)
        self.trained_codes_ = [c for c, n in zip(codes, positives) if 3 <= n <= len(Y) - 3]
        columns = [codes.index(c) for c in self.trained_codes_]
        self.truth_ = Y[:, columns]
        extra_X, extra_Y = teaching if teaching is not None else (X.iloc[:0], Y[:0])
        extra_Y = extra_Y[:, columns]
        self.pipeline_ = make_pipeline(C=self.C, random_state=self.random_state)
        self.oof_ = np.zeros(self.truth_.shape)
        splitter = KFold(min(self.folds, len(Y), 3), shuffle=True, random_state=self.random_state)
        for train, test in splitter.split(X):
            fold = clone(self.pipeline_).fit(pd.concat([X.iloc[train], extra_X]),
                                             np.vstack([self.truth_[train], extra_Y]))
            self.oof_[test] = fold.predict_proba(X.iloc[test])
        self.pipeline_.fit(pd.concat([X, extra_X]), np.vstack([self.truth_, extra_Y]))
        self.choose_thresholds(np.zeros_like(Y) if rule_hits is None else rule_hits)
        return self

    def choose_thresholds(self, rule_hits: np.ndarray) -> dict[str, tuple[float, float]]:
        """Per trained code (threshold with a rule hit, threshold without), from the out-of-fold
        scores and the training segments' rule hits under the current rules."""
        codes = list(self.code_ids)
        hits = rule_hits > 0
        self.thresholds_ = {code: best_thresholds(self.truth_[:, i], self.oof_[:, i], hits[:, codes.index(code)])
                            for i, code in enumerate(self.trained_codes_)}
        if self.themes:
            self._choose_in_the_tree(hits)
        return self.thresholds_

    def _choose_in_the_tree(self, hits: np.ndarray, rounds: int = 2) -> None:
        """Choose the thresholds again for how they are used together (coding.assign_codes): a
        sub-code counts only when its theme passes, and a theme only with one of its sub-codes or
        one of its own rules. Each threshold pair is chosen for its code's F1 under the other
        codes' current thresholds, a theme's first, for two rounds."""
        column = {c: i for i, c in enumerate(self.trained_codes_)}
        hit = {code: hits[:, i] for i, code in enumerate(self.code_ids)}
        theme_of = dict(self.themes)
        sub_codes = {t: [c for c in self.code_ids if theme_of[c] == t and c != t] for t in set(theme_of.values())}

        def passes(code):
            if code not in column:
                return hit[code]        # rule-only codes: their rules decide
            with_rule, without_rule = self.thresholds_[code]
            return self.oof_[:, column[code]] >= np.where(hit[code], with_rule, without_rule)

        def choose(code, gate):
            self.thresholds_[code] = best_thresholds(self.truth_[:, column[code]], self.oof_[:, column[code]],
                                                     hit[code], gate)

        for _ in range(rounds):
            for theme in (t for t in column if sub_codes.get(t)):
                choose(theme, hit[theme] | np.any([passes(c) for c in sub_codes[theme]], axis=0))
            for code in column:
                if theme_of[code] != code and theme_of[code] in column:
                    choose(code, passes(theme_of[code]))

    def predict_proba_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        if not self.trained_codes_:
            return pd.DataFrame(index=X.index)
        scores = self.pipeline_.predict_proba(X)
        return pd.DataFrame(scores, columns=self.trained_codes_, index=X.index)

    def explain(self, X: pd.DataFrame, code_id: str, top: int = 5) -> list[tuple[str, float]]:
        """The words and character n-grams that pushed a code's score up most for one row."""
        if code_id not in self.trained_codes_:
            return []
        features = self.pipeline_.named_steps["features"]
        vector = features.transform(X)
        names = features.get_feature_names_out()
        estimator = self.pipeline_.named_steps["model"].estimators_[self.trained_codes_.index(code_id)]
        weights = estimator.coef_[0]
        contribution = vector.multiply(weights).toarray()[0] if hasattr(vector, "multiply") else vector[0] * weights
        order = np.argsort(contribution)[::-1][:top]
        return [(names[i].split("__", 1)[-1], float(contribution[i])) for i in order if contribution[i] > 0]


WITH_RULE_GRID = np.round(np.arange(0.0, 0.96, 0.05), 2)       # 0: the rule alone decides
WITHOUT_RULE_GRID = np.append(np.round(np.arange(0.15, 0.96, 0.05), 2), 1.01)   # 1.01: never without a rule


def best_thresholds(truth: np.ndarray, scores: np.ndarray, hit: np.ndarray,
                    gate: np.ndarray | None = None) -> tuple[float, float]:
    """The (with rule, without rule) threshold pair with the best F1. True positives, false
    positives and false negatives add up over the two groups, so each group is counted once per
    threshold and the pairs are combined as a small table. `gate`: the segments where the code
    can be assigned at all (its theme passes, say); elsewhere it counts as not assigned."""
    truth = truth == 1
    gate = np.ones_like(truth) if gate is None else gate

    def counts(mask, grid):
        predicted = (scores[mask][None, :] >= grid[:, None]) & gate[mask][None, :]
        positive = truth[mask][None, :]
        return ((predicted & positive).sum(1), (predicted & ~positive).sum(1), (~predicted & positive).sum(1))

    tp_a, fp_a, fn_a = counts(hit, WITH_RULE_GRID)
    tp_b, fp_b, fn_b = counts(~hit, WITHOUT_RULE_GRID)
    tp = tp_a[:, None] + tp_b[None, :]
    fp = fp_a[:, None] + fp_b[None, :]
    fn = fn_a[:, None] + fn_b[None, :]
    f1 = np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
    i, j = np.unravel_index(np.argmax(f1), f1.shape)    # first best: the lowest thresholds
    return float(WITH_RULE_GRID[i]), float(WITHOUT_RULE_GRID[j])


def label_matrix(code_sets: list[set[str]], code_ids: list[str]) -> np.ndarray:
    return np.array([[1 if c in codes else 0 for c in code_ids] for codes in code_sets], dtype=int).reshape(
        len(code_sets), len(code_ids))


def training_hash(lemma_texts: list[str], code_sets: list[set[str]]) -> str:
    payload = json.dumps([[t, sorted(c)] for t, c in zip(lemma_texts, code_sets)], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass
class SavedModel:
    classifier: CodeClassifier
    codebook_hash: str       # the codebook it was trained with (provenance)
    training_hash: str
    tree_hash: str = ""      # the code tree it predicts: a model refuses a codebook with other codes
    sklearn_version: str = sklearn.__version__
    format: int = MODEL_FORMAT
    meta: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        return f"model-{self.training_hash[:8]}-{self.tree_hash[:8]}"


def save_model(model: SavedModel, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as handle:
        pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)


def load_model(path: Path, codebook: Codebook) -> SavedModel:
    """Load a saved model; refuse one trained for another codebook or scikit-learn version."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path}: no model file; build a database first (qcode build) or pass --model")
    try:
        with open(path, "rb") as handle:
            model = pickle.load(handle)
    except Exception as exc:
        raise ModelError(f"{path}: not a qcode model file ({exc})") from exc
    if not isinstance(model, SavedModel) or model.format != MODEL_FORMAT:
        raise ModelError(f"{path}: not a qcode model file of format {MODEL_FORMAT} (one saved by another "
                         "version of qcode?); rebuild (qcode build) to retrain it")
    if model.tree_hash != codebook.tree_hash:
        raise ModelError(
            f"{path}: model was trained for the codes of codebook {model.codebook_hash}, but {codebook.path} "
            f"({codebook.hash}) has other codes; rebuild (qcode build) to retrain it for this codebook, or name the "
            f"model a build with this codebook saved (--model db/<study>.model.pkl)"
        )
    if model.sklearn_version != sklearn.__version__:
        raise ModelError(f"{path}: model was saved with scikit-learn {model.sklearn_version}, "
                         f"this is {sklearn.__version__}; rebuild to retrain it")
    return model


def model_path_for(db_path: Path) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(db_path.stem + ".model.pkl")
