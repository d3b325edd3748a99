"""The anonymisation review queue: detections made on weak evidence only, per document."""

from __future__ import annotations

from pathlib import Path

from .anonymise import PseudonymKey, anonymise_corpus, load_corpus_settings, load_lists, review_items
from .errors import IngestError
from .ingest import list_corpus_files, read_document


def weak_detections(corpus_dir: Path) -> dict:
    """{"documents": {relative path: [items]}, "errors": [...]}; items carry text, label, context.

    This reads the raw corpus (it has to show the original words) and prints to the terminal: the
    report is never written to the database.
    """
    corpus_dir = Path(corpus_dir)
    lists = load_lists(load_corpus_settings(corpus_dir))
    report: dict = {"documents": {}, "errors": []}
    texts = {}
    for path in list_corpus_files(corpus_dir):
        try:
            texts[path.relative_to(corpus_dir).as_posix()] = read_document(path).text
        except IngestError as exc:
            report["errors"].append(str(exc))
    # The whole corpus at once, as a build does: a name found on strong evidence in one document
    # is no weak detection in another (so the count is the build's review queue).
    for name, anonymised in anonymise_corpus(texts, lists, PseudonymKey()).items():
        items = review_items(texts[name], anonymised.entities)
        if items:
            report["documents"][name] = items
    return report
