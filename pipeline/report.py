"""The anonymisation review queue: detections made on weak evidence only, per document."""

from __future__ import annotations

from pathlib import Path

from .anonymise import find_entities, load_corpus_settings, load_lists, review_items
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
    for path in list_corpus_files(corpus_dir):
        try:
            document = read_document(path)
        except IngestError as exc:
            report["errors"].append(str(exc))
            continue
        items = review_items(document.text, find_entities(document.text, lists))
        if items:
            report["documents"][path.relative_to(corpus_dir).as_posix()] = items
    return report
