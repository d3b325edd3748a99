"""Stage 4b: the multi-label classifier, and how its scores combine with the rules.

Model: a scikit-learn Pipeline. Input rows are (lemma text, rule-hit indicators per code); word
1-2-gram and character 2-5-gram TF-IDF plus the rule indicators feed one logistic regression per
code, calibrated with sigmoid calibration. Per-code thresholds are chosen by cross-validation
(the threshold that maximises F1 on out-of-fold scores).

How rules and classifier combine (one rule, documented in the README):
  * With a trained model, a code is assigned when its calibrated score reaches the code's
    threshold. The rule hits are features of the model, so the model learns how far to trust each
    code's rules. The coding's source is "rule" (with the rule id) when one of the code's rules
    fired, else "classifier".
  * Without a model (no manual codings yet), a code is assigned when one of its rules fires,
    score 1.0, source "rule".
  * A theme is assigned when the theme itself or any of its sub-codes is.
  * Manual codings always win over both (see build.py).
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
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline

from .codebook import Codebook
from .errors import ModelError

MODEL_FORMAT = 1


def feature_frame(lemma_texts: list[str], rule_codes: list[set[str]], code_ids: list[str]) -> pd.DataFrame:
    """The model's input: one row per segment, the lemma text and one 0/1 column per code's rules."""
    frame = pd.DataFrame({"text": lemma_texts})
    for code_id in code_ids:
        frame[f"rule:{code_id}"] = [1.0 if code_id in hits else 0.0 for hits in rule_codes]
    return frame


def make_pipeline(code_ids: list[str], C: float = 4.0, random_state: int = 0) -> Pipeline:
    rule_columns = [f"rule:{code_id}" for code_id in code_ids]
    features = ColumnTransformer([
        ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), "text"),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True,
                                  max_features=20000), "text"),
        ("rules", "passthrough", rule_columns),
    ])
    # Logistic regression's probabilities are calibrated by its log-loss; the per-code thresholds
    # chosen by cross-validation decide assignment. (CalibratedClassifierCV on top tripled training
    # time for no gain in F1 on the demo codings.)
    model = LogisticRegression(C=C, class_weight="balanced", solver="liblinear", max_iter=2000,
                               random_state=random_state)
    return Pipeline([("features", features), ("model", OneVsRestClassifier(model))])


class CodeClassifier(BaseEstimator, ClassifierMixin):
    """Multi-label classifier over codes with per-code thresholds chosen by cross-validation."""

    def __init__(self, code_ids: tuple = (), C: float = 4.0, folds: int = 5, random_state: int = 0):
        self.code_ids = code_ids
        self.C = C
        self.folds = folds
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, Y: np.ndarray) -> "CodeClassifier":
        codes = list(self.code_ids)
        # Codes with too few positives cannot be learned; they stay rule-only.
        positives = Y.sum(axis=0)
        self.trained_codes_ = [c for c, n in zip(codes, positives) if 3 <= n <= len(Y) - 3]
        columns = [codes.index(c) for c in self.trained_codes_]
        Y_trained = Y[:, columns]
        self.pipeline_ = make_pipeline(codes, C=self.C, random_state=self.random_state)
        folds = min(self.folds, len(Y), 3)
        oof = cross_val_predict(
            self.pipeline_, X, Y_trained, method="predict_proba",
            cv=KFold(folds, shuffle=True, random_state=self.random_state),
        )
        self.thresholds_ = {code: _best_threshold(Y_trained[:, i], oof[:, i]) for i, code in enumerate(self.trained_codes_)}
        self.pipeline_.fit(X, Y_trained)
        return self

    def predict_proba_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        if not self.trained_codes_:
            return pd.DataFrame(index=X.index)
        scores = self.pipeline_.predict_proba(X)
        return pd.DataFrame(scores, columns=self.trained_codes_, index=X.index)

    def explain(self, X: pd.DataFrame, code_id: str, top: int = 5) -> list[tuple[str, float]]:
        """The features that pushed a code's score up most for one row (words and rules)."""
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


def _best_threshold(truth: np.ndarray, scores: np.ndarray) -> float:
    best, best_f1 = 0.5, -1.0
    for threshold in np.arange(0.15, 0.86, 0.05):
        predicted = scores >= threshold
        tp = float(np.sum(predicted & (truth == 1)))
        fp = float(np.sum(predicted & (truth == 0)))
        fn = float(np.sum(~predicted & (truth == 1)))
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best_f1 + 1e-9:
            best, best_f1 = float(round(threshold, 2)), f1
    return best


def label_matrix(code_sets: list[set[str]], code_ids: list[str]) -> np.ndarray:
    return np.array([[1 if c in codes else 0 for c in code_ids] for codes in code_sets], dtype=int)


def training_hash(lemma_texts: list[str], code_sets: list[set[str]]) -> str:
    payload = json.dumps([[t, sorted(c)] for t, c in zip(lemma_texts, code_sets)], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass
class SavedModel:
    classifier: CodeClassifier
    codebook_hash: str
    training_hash: str
    sklearn_version: str = sklearn.__version__
    format: int = MODEL_FORMAT
    meta: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        return f"model-{self.training_hash[:8]}-{self.codebook_hash[:8]}"


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
        raise ModelError(f"{path}: not a qcode model file of format {MODEL_FORMAT}")
    if model.codebook_hash != codebook.hash:
        raise ModelError(
            f"{path}: model was trained for codebook {model.codebook_hash}, but {codebook.path} is "
            f"{codebook.hash}; rebuild (qcode build) to retrain it for this codebook"
        )
    if model.sklearn_version != sklearn.__version__:
        raise ModelError(f"{path}: model was saved with scikit-learn {model.sklearn_version}, "
                         f"this is {sklearn.__version__}; rebuild to retrain it")
    return model


def model_path_for(db_path: Path) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(db_path.stem + ".model.pkl")
