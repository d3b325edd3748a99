"""`qcode suggest`: the codes the pipeline assigns to new texts, with explanations on request."""

from __future__ import annotations

from pathlib import Path

from .anonymise import anonymise_text, load_lists
from .classify import load_model, text_frame
from .codebook import load_codebook
from .coding import all_scores, assign_codes, in_scope, prepare
from .errors import ModelError
from .nlp import load_nlp
from .rules import RuleSet


def suggest_codes(items: list[dict], codebook_path: Path, model_path: Path | None, *, show_all: bool = False,
                  explain: bool = False, anonymise: bool = True) -> list[dict]:
    """One {"id", "codes": [...], "in_scope"} per item, highest score first. Texts are anonymised
    first, as in a build, so that the model sees what it was trained on. Items with the same
    "document", in reading order, are read as one document for the codebook's scope; an item
    outside it gets no codes (with `show_all`, its scores are still shown)."""
    codebook = load_codebook(codebook_path)
    model = None
    if model_path is not None:
        try:
            model = load_model(model_path, codebook)
        except ModelError:
            if Path(model_path).exists():
                raise
            model = None   # no model yet: rules only
    texts = [item["text"] for item in items]
    if anonymise:
        lists = load_lists()
        texts = [anonymise_text(t, lists).text for t in texts]
    prepared = prepare(texts, RuleSet(codebook, load_nlp()))
    assigned = assign_codes(codebook, prepared, model)
    scope = in_scope(codebook, prepared, [item.get("document") for item in items])
    scores = all_scores(codebook, prepared, model) if show_all else None
    out = []
    for row, item in enumerate(items):
        if show_all:
            codes = [{"code": c, "theme": codebook.theme_of(c), "score": s,
                      "source": _source(c, prepared.rule_codes[row], model)} for c, s in scores[row].items()]
            codes.sort(key=lambda c: (-c["score"], c["code"]))
        else:
            codes = [{"code": a.code_id, "theme": a.theme, "score": a.score, "source": a.source}
                     for a in assigned[row] if scope[row]]
        if explain:
            for code in codes:
                code["explain"] = _explanation(codebook, prepared, model, row, code["code"])
        out.append({"id": item.get("id"), "codes": codes, "in_scope": scope[row]})
    return out


def _source(code_id, rule_codes, model) -> str:
    if code_id in rule_codes:
        return "rule"
    return "classifier" if model is not None and code_id in model.classifier.trained_codes_ else "none"


def _explanation(codebook, prepared, model, row, code_id) -> dict:
    hits = [h for h in prepared.hits[row] if h.code_id == code_id]
    result = {"rules": [{"rule": h.rule_id, "text": h.text} for h in hits]}
    if model is not None:
        X = text_frame(prepared.lemma_texts[row:row + 1])
        result["terms"] = [{"feature": f, "weight": round(w, 3)} for f, w in model.classifier.explain(X, code_id)]
    return result
