"""Measure the anonymiser on a gold file of passages: recall per label, keep rate, every miss.

Gold file (YAML): passages: [{id, text, remove: [{text, label}], keep: [text]}]. A `remove`
string counts as caught when every letter and digit of every occurrence is inside a detection (any
label: what matters is that it is gone). A `keep` string counts as kept when no occurrence outside
the removed strings overlaps a detection.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import yaml

from .anonymise import Lists, anonymise_corpus, PseudonymKey
from .errors import QcodeError


def load_gold(path: Path) -> list[dict]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise QcodeError(f"{path}: cannot read gold file ({exc})") from exc
    passages = (data or {}).get("passages")
    if not isinstance(passages, list):
        raise QcodeError(f"{path}: expected a top-level 'passages' list")
    return passages


def _occurrences(text: str, needle: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", text)] or \
        [(m.start(), m.end()) for m in re.finditer(re.escape(needle), text)]


def _is_covered(spans, start, end, text) -> bool:
    return all(any(s <= i < e for s, e in spans) for i in range(start, end) if text[i].isalnum())


def evaluate_anonymiser(passages: list[dict], lists: Lists, context: int = 30) -> dict:
    """Run the anonymiser (each passage on its own) and score it against the gold strings."""
    # Each passage on its own: a name in one passage must not help find it in another.
    results = {p["id"]: anonymise_corpus({p["id"]: p["text"]}, lists, PseudonymKey())[p["id"]] for p in passages}
    found, total, misses = Counter(), Counter(), []
    kept, keep_total, wrongly_removed = 0, 0, []
    for passage in passages:
        text = passage["text"]
        spans = [(e.start, e.end) for e in results[passage["id"]].entities]
        remove_spans = []
        for item in passage.get("remove") or []:
            label = item["label"]
            for start, end in _occurrences(text, item["text"]):
                remove_spans.append((start, end))
                total[label] += 1
                if _is_covered(spans, start, end, text):
                    found[label] += 1
                else:
                    misses.append({"passage": passage["id"], "label": label, "text": item["text"],
                                   "context": text[max(0, start - context):end + context]})
        for word in passage.get("keep") or []:
            for start, end in _occurrences(text, word):
                if any(s <= start and end <= e for s, e in remove_spans):
                    continue
                keep_total += 1
                if any(s < end and start < e for s, e in spans):
                    wrongly_removed.append({"passage": passage["id"], "text": word,
                                            "context": text[max(0, start - context):end + context]})
                else:
                    kept += 1
    recall = {label: found[label] / total[label] for label in sorted(total)}
    all_found, all_total = sum(found.values()), sum(total.values())
    return {
        "recall": recall, "counts": {label: [found[label], total[label]] for label in sorted(total)},
        "recall_all": all_found / all_total if all_total else 1.0,
        "keep_rate": kept / keep_total if keep_total else 1.0, "keep_counts": [kept, keep_total],
        "misses": misses, "wrongly_removed": wrongly_removed,
    }
