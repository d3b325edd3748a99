"""Stage 4: code segments with the codebook's rules and the classifier (see classify.py for how the
two combine). Plain functions shared by `qcode build`, `qcode suggest` and `qcode evaluate`."""

from __future__ import annotations

import bisect
import dataclasses
import functools
import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .cache import CodingCache, text_hash
from .classify import CodeClassifier, SavedModel, label_matrix, text_frame, training_hash
from .codebook import OTHER_SUBJECT, SCOPE, Codebook
from .nlp import lemma_text, load_nlp
from .rules import RuleHit, RuleSet, rule_hits_by_code


class Assignment(NamedTuple):
    # A named tuple: the coding cache keeps every segment's codings, and tuples pickle fast.
    code_id: str
    theme: str
    score: float
    source: str            # "rule" | "classifier"
    rule_id: str | None
    spans: list            # [[start, end], ...] of the rule hits in the segment text


@dataclass
class Prepared:
    """Segments run through spaCy and the rules: what both training and prediction need."""

    texts: list[str]
    lemma_texts: list[str]
    hits: list[list[RuleHit]]

    @property
    def rule_codes(self) -> list[set[str]]:
        return [{h.code_id for h in hits} for hits in self.hits]

    def subset(self, rows: list[int]) -> "Prepared":
        """The prepared segments at these positions (training folds, segments to assign again)."""
        return Prepared([self.texts[i] for i in rows], [self.lemma_texts[i] for i in rows], [self.hits[i] for i in rows])


def prepare(texts: list[str], ruleset: RuleSet, batch_size: int = 256, progress=None) -> Prepared:
    nlp = load_nlp()
    lemma_texts, hits = [], []
    for doc in nlp.pipe(texts, batch_size=batch_size):
        lemma_texts.append(lemma_text(doc))
        hits.append(ruleset.match(doc))
        if progress:
            progress(1)
    return Prepared(list(texts), lemma_texts, hits)


def in_scope(codebook: Codebook, prepared: Prepared, documents: list | None = None) -> list[bool]:
    """Per segment: may it get machine codes? A segment is in the codebook's scope in a document
    about its subject (one of the `subject` rules matches there at least `scope_rate` times per
    1,000 words), and elsewhere when the subject is named in it or at most `scope_window` words
    from it. A segment that is neither is outside the scope when a neighbouring subject (the
    `other_subjects` rules) is named in it or as near; without `other_subjects` rules, always.
    `documents` gives each segment's document, the segments of a document in reading order (None:
    a document of its own). Without scope rules every segment is in scope.

    Why: the words of the codes are the words of the whole social domain. A model that learned
    from interviews about inburgering reads "regie", "aanbieder" or "wachttijd" in a Wmo or youth
    care paper as evidence; which subject a passage is about is said in it or near it."""
    if not codebook.scope_rules:
        return [True] * len(prepared.texts)
    by_document: dict = {}
    for row, document in enumerate(documents or [None] * len(prepared.texts)):
        by_document.setdefault(("own", row) if document is None else document, []).append(row)
    subject = [any(hit.code_id == SCOPE for hit in hits) for hits in prepared.hits]
    other = [any(hit.code_id == OTHER_SUBJECT for hit in hits) for hits in prepared.hits]
    result = [False] * len(prepared.texts)
    for rows in by_document.values():
        words = [len(prepared.texts[row].split()) for row in rows]
        if sum(subject[row] for row in rows) * 1000 >= codebook.scope_rate * max(1, sum(words)):
            inside = set(rows)                        # a document about the subject, throughout
        else:
            inside = set(_near_a_mention(rows, subject, words, codebook.scope_window))
            if codebook.other_subject_rules:
                inside |= set(rows) - set(_near_a_mention(rows, other, words, codebook.scope_window))
        for row in inside:
            result[row] = True
    return result


def _near_a_mention(rows: list[int], mentions: list[bool], words: list[int], window: int) -> list[int]:
    """The rows of one document (in reading order, with their word counts) that mention the scope
    or lie within `window` words of a row that does."""
    ends = list(itertools.accumulate(words))
    starts = [end - count for end, count in zip(ends, words)]
    mentioning = [k for k, row in enumerate(rows) if mentions[row]]
    near = []
    for k, row in enumerate(rows):
        after = bisect.bisect_left(mentioning, k)          # the first mention at or after this row
        gaps = ([starts[mentioning[after]] - ends[k]] if after < len(mentioning) else []) + \
               ([starts[k] - ends[mentioning[after - 1]]] if after > 0 else [])
        if gaps and min(max(0, gap) for gap in gaps) <= window:
            near.append(row)
    return near


def with_themes(codebook: Codebook, codes: set[str]) -> set[str]:
    """A sub-code implies its theme (and every ancestor)."""
    out = set()
    for code in codes:
        if code in codebook.by_id:
            out.add(code)
            out.update(codebook.ancestors(code))
    return out


def rule_matrix(prepared: Prepared, code_ids: list[str]) -> np.ndarray:
    """0/1 per segment and code: did one of the code's rules fire."""
    return label_matrix(prepared.rule_codes, code_ids)


def code_descriptions(codebook: Codebook) -> tuple[list[str], list[set[str]]]:
    """The codebook's description of each code as training texts: its definition, inclusion note
    and each example, labelled with the code and its ancestors; then its teaching examples with
    their codes (see classify.py)."""
    texts, code_sets = [], []
    for code in codebook.codes:
        for text in (code.definition, code.include, *code.examples):
            if str(text).strip():
                texts.append(str(text))
                code_sets.append(with_themes(codebook, {code.id}))
    for text, codes in codebook.teaching:
        texts.append(text)
        code_sets.append(with_themes(codebook, set(codes)))
    return texts, code_sets


def model_training_hash(codebook: Codebook, prepared: Prepared, code_sets: list[set[str]]) -> str:
    """What a trained model depends on besides the code tree: the coded segments, their codes and
    the codes' descriptions. A build retrains when it changes."""
    described, described_codes = code_descriptions(codebook)
    return training_hash(prepared.lemma_texts + described,
                         [with_themes(codebook, s) for s in code_sets] + described_codes)


def train_model(codebook: Codebook, prepared: Prepared, code_sets: list[set[str]], random_state: int = 0) -> SavedModel:
    code_ids = [c.id for c in codebook.codes]
    themes = tuple((code, codebook.theme_of(code)) for code in code_ids)
    described, described_codes = code_descriptions(codebook)
    teaching = (text_frame([lemma_text(doc) for doc in load_nlp().pipe(described)]),
                label_matrix(described_codes, code_ids))
    classifier = CodeClassifier(code_ids=tuple(code_ids), random_state=random_state, themes=themes).fit(
        text_frame(prepared.lemma_texts), label_matrix([with_themes(codebook, s) for s in code_sets], code_ids),
        rule_matrix(prepared, code_ids), teaching=teaching)
    return SavedModel(classifier, codebook.hash, model_training_hash(codebook, prepared, code_sets),
                      codebook.tree_hash, meta={"segments": len(code_sets), "descriptions": len(described) - len(codebook.teaching),
                            "teaching": len(codebook.teaching)})


def class_scores(model: SavedModel | None, lemma_texts: list[str]) -> np.ndarray | None:
    """The model's score per segment and trained code (columns: model.classifier.trained_codes_)."""
    if model is None or not model.classifier.trained_codes_ or not lemma_texts:
        return None
    return model.classifier.predict_proba_frame(text_frame(lemma_texts)).to_numpy()


def assign_codes(codebook: Codebook, prepared: Prepared, model: SavedModel | None,
                 scores: np.ndarray | None = None) -> list[list[Assignment]]:
    """The codes for each prepared segment, highest score first. `scores` (from class_scores) can
    be passed in when they are known already."""
    ancestors = {c.id: codebook.ancestors(c.id) for c in codebook.codes}
    theme_of = {c.id: codebook.theme_of(c.id) for c in codebook.codes}
    order = {c.id: n for n, c in enumerate(codebook.codes)}
    has_sub_codes = {theme_of[c.id] for c in codebook.codes if c.parent}
    if model is not None and scores is None:
        scores = class_scores(model, prepared.lemma_texts)
    trained = list(model.classifier.trained_codes_) if model is not None and scores is not None else []
    columns = {code: j for j, code in enumerate(trained)}
    passed = _passing(model, scores, prepared, trained) if trained else None
    results = []
    for row, hits in enumerate(prepared.hits):
        # code -> (its first rule's id, the spans of all its hits)
        fired = {code: (code_hits[0].rule_id, [[h.start, h.end] for h in code_hits])
                 for code, code_hits in rule_hits_by_code(hits).items()}
        # Trained codes count when their score passes the threshold that applies (classify.py);
        # the others when one of their rules fired.
        candidates = [c for c in fired if c not in columns and c in theme_of]
        if passed is not None:
            candidates += [trained[j] for j in np.flatnonzero(passed[row])]
        candidates.sort(key=order.get)      # codebook order: a theme takes the score of its first sub-code
        chosen: dict[str, Assignment] = {}
        for code_id in candidates:
            rule_id, spans = fired.get(code_id, (None, []))
            score = round(float(scores[row, columns[code_id]]), 4) if code_id in columns else 1.0
            chosen[code_id] = Assignment(code_id, theme_of[code_id], score, "rule" if rule_id else "classifier",
                                         rule_id, spans)
        if model is not None:
            # Hierarchy: a sub-code counts only when the model also gives its theme (measured on the
            # demo gold: theme kappa up by 0.01-0.04 over "any sub-code implies the theme").
            themes = {t for t in codebook.themes if t in chosen or t not in columns}
            chosen = {c: a for c, a in chosen.items() if theme_of[c] in themes}
            # ... and a theme with sub-codes counts only with one of them or one of its own rules
            # (coders give a theme through its sub-codes; the thresholds were chosen for this).
            backed = {theme_of[c] for c in chosen if c != theme_of[c]} | set(fired)
            chosen = {c: a for c, a in chosen.items() if c != theme_of[c] or c in backed or c not in has_sub_codes}
        for code_id in list(chosen):
            for ancestor in ancestors[code_id]:
                if ancestor not in chosen:
                    child = chosen[code_id]
                    chosen[ancestor] = Assignment(ancestor, theme_of[ancestor], child.score, child.source,
                                                  child.rule_id, child.spans)
        results.append(sorted(chosen.values(), key=lambda a: (-a.score, a.code_id)))
    return results


def assign_incremental(codebook: Codebook, prepared: Prepared, model: SavedModel | None, scores: np.ndarray | None,
                       keys: list[str], previous: CodingCache, cache: CodingCache) -> list[list[Assignment]]:
    """assign_codes, taking from the last build the codes of each segment whose rule hits are the
    same, when the code tree, the model and its thresholds are too (a segment's scores are then the
    same as well). After a one-rule edit only the segments whose hits changed are assigned again.
    Puts every segment's codes in `cache` for the next build."""
    context = assignment_context(codebook, model)
    before = previous.assignments if previous.assignment_context == context else {}
    earlier_hits = {k: previous.segments[k][1] for k in before if k in previous.segments}
    todo = [i for i, k in enumerate(keys) if k not in before or earlier_hits.get(k) != prepared.hits[i]]
    results = [before.get(k) for k in keys]
    if todo:
        redone = assign_codes(codebook, prepared.subset(todo), model, None if scores is None else scores[todo])
        for i, assignments in zip(todo, redone):
            results[i] = assignments
    cache.assignments, cache.assignment_context = dict(zip(keys, results)), context
    return results


def assignment_context(codebook: Codebook, model: SavedModel | None) -> str:
    """Everything besides a segment's hits and scores that its codes depend on."""
    thresholds = sorted(model.classifier.thresholds_.items()) if model is not None else []
    payload = json.dumps([codebook.tree_hash, model.version if model is not None else "rules-only",
                          thresholds, nlp_fingerprint()])
    return hashlib.sha256(payload.encode()).hexdigest()


def _passing(model: SavedModel, scores: np.ndarray, prepared: Prepared, trained: list[str]) -> np.ndarray:
    """Per segment and trained code: does the score reach the threshold that applies (with or
    without one of the code's rules firing)."""
    fired = rule_matrix(prepared, trained).astype(bool)
    with_rule = np.array([model.classifier.thresholds_[c][0] for c in trained])
    without_rule = np.array([model.classifier.thresholds_[c][1] for c in trained])
    return scores >= np.where(fired, with_rule, without_rule)


def all_scores(codebook: Codebook, prepared: Prepared, model: SavedModel | None) -> list[dict[str, float]]:
    """Every code's score per segment (for `qcode suggest --all`)."""
    code_ids = [c.id for c in codebook.codes]
    scores = class_scores(model, prepared.lemma_texts)
    columns = {code: j for j, code in enumerate(model.classifier.trained_codes_)} if model is not None else {}
    out = []
    for row, codes in enumerate(prepared.rule_codes):
        out.append({code_id: round(float(scores[row, columns[code_id]]), 4) if code_id in columns
                    else (1.0 if code_id in codes else 0.0) for code_id in code_ids})
    return out


def cross_validate(codebook: Codebook, texts: list[str], code_sets: list[set[str]], folds: int = 5,
                   random_state: int = 0, progress=None, roles: list[str | None] | None = None,
                   train_fraction: float = 1.0, prepared: Prepared | None = None) -> list[set[str]]:
    """Out-of-fold predicted code sets for every text: the whole rule+classifier pipeline. With
    `roles` (the speaker role per text), texts of the codebook's uncoded roles are left out of
    training and predicted uncoded, as a build does. `train_fraction` < 1 trains each fold on a
    random part of its training texts (for a learning curve). `prepared`: the texts already run
    through `prepare` with this codebook's rules (several splits of the same texts share it)."""
    import random

    from sklearn.model_selection import KFold

    if prepared is None:
        prepared = prepare(texts, RuleSet(codebook, load_nlp()))
    predicted: list[set[str]] = [set() for _ in texts]
    coded = [role not in codebook.uncoded_roles for role in (roles or [None] * len(texts))]
    splitter = KFold(folds, shuffle=True, random_state=random_state)
    for train_index, test_index in splitter.split(np.arange(len(texts))):
        train_index = [i for i in train_index if coded[i]]
        if train_fraction < 1:
            train_index = sorted(random.Random(random_state).sample(train_index, int(len(train_index) * train_fraction)))
        test_index = [i for i in test_index if coded[i]]
        for i, codes in zip(test_index, fit_predict(codebook, prepared, code_sets, train_index, test_index, random_state)):
            predicted[i] = codes
        if progress:
            progress(1)
    return predicted


def fit_predict(codebook: Codebook, prepared: Prepared, code_sets: list[set[str]], train_index: list[int],
                test_index: list[int], random_state: int = 0) -> list[set[str]]:
    """Train the pipeline on the prepared segments at train_index and code those at test_index."""
    model = train_model(codebook, prepared.subset(train_index), [code_sets[i] for i in train_index], random_state)
    return [{a.code_id for a in assignments} for assignments in assign_codes(codebook, prepared.subset(test_index), model)]


def prepare_incremental(texts: list[str], codebook: Codebook, previous: CodingCache, progress=None,
                        keys: list[str] | None = None) -> tuple[Prepared, CodingCache, dict]:
    """`prepare` that reuses the last build's work: a segment seen before keeps its lemmas and the
    hits of every rule that did not change. Only new or edited rules are matched again (of a rule
    that only gained phrases, only the new phrases), and only on segments that contain one of
    their anchor words (RuleSet.may_match). Returns the prepared segments, the cache for the next
    build and what was redone. `keys` identify the texts (the segments' content-hash keys; by
    default a hash of each text)."""
    nlp = load_nlp()
    if previous.fingerprint != nlp_fingerprint():
        previous = CodingCache()
    signatures = {rule.id: _rule_signature(rule) for rule in codebook.rules}
    kept, to_match = _rule_changes(codebook, signatures, previous.rules)
    keys = keys or [text_hash(t) for t in texts]
    lemma_texts: list[str] = [""] * len(texts)
    hits: list[list[RuleHit]] = [[] for _ in texts]
    new = [i for i, k in enumerate(keys) if k not in previous.segments]
    if new:
        fresh = prepare([texts[i] for i in new], RuleSet(codebook, nlp), progress=progress)
        for i, lemmas, segment_hits in zip(new, fresh.lemma_texts, fresh.hits):
            lemma_texts[i], hits[i] = lemmas, segment_hits
    new_set = set(new)
    seen = [i for i in range(len(texts)) if i not in new_set]
    for i in seen:
        lemma_texts[i], old_hits = previous.segments[keys[i]]
        hits[i] = [h for h in old_hits if h.rule_id in kept]
    rematched = []
    if to_match and seen:
        partial = RuleSet(codebook, nlp, rules=to_match)
        rematched = [i for i in seen if partial.may_match(texts[i], lemma_texts[i])]
        for i, doc in zip(rematched, nlp.pipe([texts[i] for i in rematched], batch_size=256)):
            merged = {(h.rule_id, h.start, h.end): h for h in hits[i] + partial.match(doc)}
            hits[i] = sorted(merged.values(), key=lambda h: (h.start, h.rule_id))
    if progress:
        progress(len(seen))
    cache = CodingCache(rules=signatures, segments=dict(zip(keys, zip(lemma_texts, hits))),
                        model_version=previous.model_version, scores=previous.scores, fingerprint=nlp_fingerprint())
    return Prepared(list(texts), lemma_texts, hits), cache, {"segments_new": len(new), "rules_rematched": len(to_match),
                                                             "segments_rematched": len(rematched)}


@functools.lru_cache(maxsize=1)
def nlp_fingerprint() -> str:
    """Changes when tokens or lemmas could: another spaCy, or another nlp.py or lookup data."""
    from pathlib import Path

    import spacy

    digest = hashlib.sha256(spacy.__version__.encode())
    digest.update((Path(__file__).parent / "nlp.py").read_bytes())
    return digest.hexdigest()[:16]


def _rule_signature(rule) -> dict:
    return {"code_id": rule.code_id, "phrases": list(rule.phrases), "patterns": list(rule.patterns),
            "unless_near": list(rule.unless_near), "window": rule.window}


def _rule_changes(codebook: Codebook, signatures: dict, before: dict) -> tuple[set[str], list]:
    """Rules whose cached hits still hold, and the rules (or added phrases) to match again."""
    kept, to_match = set(), []
    for rule in codebook.rules:
        now, old = signatures[rule.id], before.get(rule.id)
        if old == now:
            kept.add(rule.id)
        elif (old and {k: v for k, v in old.items() if k != "phrases"} == {k: v for k, v in now.items() if k != "phrases"}
              and set(old["phrases"]) <= set(now["phrases"])):
            # Only phrases added: the old hits hold; match the new phrases alone.
            kept.add(rule.id)
            to_match.append(dataclasses.replace(rule, phrases=tuple(p for p in rule.phrases if p not in old["phrases"])))
        else:
            to_match.append(rule)
    return kept, to_match


def cached_class_scores(model: SavedModel | None, lemma_texts: list[str], cache: CodingCache,
                        keys: list[str] | None = None) -> np.ndarray | None:
    """class_scores, taking the rows of texts scored by the same model before from the cache (and
    putting the new ones in). `keys` as for prepare_incremental."""
    if model is None or not model.classifier.trained_codes_:
        return None
    if cache.model_version != model.version:
        cache.model_version, cache.scores = model.version, {}
    keys = keys or [text_hash(t) for t in lemma_texts]
    todo = sorted({k: i for i, k in enumerate(keys) if k not in cache.scores}.values())
    if todo:
        for i, row in zip(todo, class_scores(model, [lemma_texts[i] for i in todo])):
            cache.scores[keys[i]] = row
    wanted = set(keys)
    cache.scores = {k: v for k, v in cache.scores.items() if k in wanted}
    return np.vstack([cache.scores[k] for k in keys]) if keys else None
