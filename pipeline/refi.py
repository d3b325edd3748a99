"""REFI-QDA (QDA-XML 1.0) both ways: the codebook as `.qdc`, the project as `.qdpx`.

Export reads only the anonymised database: codes, document texts, the selected codings (the same
`ExportFilters` as every export), participants as cases with their attributes, memos as notes.
GUIDs are `uuid5(GUID_NAMESPACE, "<kind>:<id>")`, so two exports of the same database (or of a
database rebuilt from the same corpus) name every object alike. Positions are Unicode code points
into `documents.text`, the text written to `sources/`.

Import validates everything first (XML syntax, GUID references, offsets, codes) and raises a
`QcodeError` naming the element and its line; only then is anything written, in one transaction.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import io
import os
import re
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils
import yaml
from lxml import etree

from . import __version__, store
from .errors import CodebookError, QcodeError

NS_PROJECT = "urn:QDA-XML:project:1.0"
NS_CODEBOOK = "urn:QDA-XML:codebook:1.0"
# Fixed, so GUIDs depend only on the ids in the database (never change it: other tools key on them).
GUID_NAMESPACE = uuid.UUID("5d0c7a0e-2b9e-5f3c-9a61-7b3f1e8c4d20")
# Users that stand for qcode's own coding: their codings are recomputed by every build, not imported.
MACHINE_USER_PREFIXES = ("qcode-rules@", "qcode-classifier@")
REVIEW_ORIGIN = "refi-review:"   # an imported coding that reviewed the machine's (store.CODED_FROM_SCRATCH)
CASE_VARIABLES = ("role", "route", "gender", "age_band", "municipality_type")
SOURCE_VARIABLES = ("municipality_type", "kind")
MAX_MEMBER_BYTES = 200 * 1024 * 1024   # a larger member in a .qdpx is refused (zip bomb)
# Characters XML 1.0 cannot carry; removed from names and descriptions (source texts go to files).
XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
DEFAULT_COLOUR = "#888888"


def guid(kind: str, key: str) -> str:
    """The stable GUID of one object: the same database gives the same GUIDs in every export."""
    return str(uuid.uuid5(GUID_NAMESPACE, f"{kind}:{key}"))


# ================================================================ export


def _clean(value) -> str:
    return XML_ILLEGAL.sub("", str(value))


def _sub(parent, ns: str, tag: str, attrs: dict | None = None, text: str | None = None):
    element = etree.SubElement(parent, f"{{{ns}}}{tag}", {k: _clean(v) for k, v in (attrs or {}).items() if v not in (None, "")})
    if text is not None:
        element.text = _clean(text)
    return element


def code_description(code: dict) -> str:
    """Definition, then the inclusion and exclusion notes as on the codebook page ("Wel:", "Niet:")."""
    parts = [code.get("definition") or ""]
    notes = [f"{label}: {code[key]}" for key, label in (("include", "Wel"), ("exclude", "Niet")) if code.get(key)]
    return "\n\n".join(p for p in parts + ["\n".join(notes)] if p)


def _colour(value: str | None) -> str:
    return (value or DEFAULT_COLOUR).upper() if re.fullmatch(r"#[0-9a-fA-F]{6}", value or "") else DEFAULT_COLOUR


def _code_elements(parent, ns: str, codes: dict, parent_id: str | None, notes: dict | None = None) -> None:
    """The code tree under parent_id, in codebook order. `notes` (code id -> note GUIDs): project only."""
    for code in (c for c in codes.values() if c.get("parent") == parent_id):
        element = _sub(parent, ns, "Code", {"guid": guid("code", code["id"]), "name": code["label"] or code["id"],
                                            "isCodable": "true", "color": _colour(code.get("colour"))})
        _sub(element, ns, "Description", text=code_description(code))
        for note_guid in (notes or {}).get(code["id"], []):
            _sub(element, ns, "NoteRef", {"targetGUID": note_guid})
        _code_elements(element, ns, codes, code["id"], notes)


def _serialise(root) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def qdc_bytes(codes: dict) -> bytes:
    """The codebook as a REFI-QDA `.qdc` document (Codebook.xsd)."""
    root = etree.Element(f"{{{NS_CODEBOOK}}}CodeBook", {"origin": f"qcode {__version__}"}, nsmap={None: NS_CODEBOOK})
    _code_elements(_sub(root, NS_CODEBOOK, "Codes"), NS_CODEBOOK, codes, None)
    return _serialise(root)


@dataclass
class ProjectData:
    """Everything one `.qdpx` holds, read from the database for one set of filters."""
    codes: dict
    rows: list[dict]                       # the selected codings (export.select_quotes rows)
    codings: dict                          # (segment id, code id) -> [{"guid", "user", "created"}]
    segments: dict                         # segment id -> {document_id, start, end, participant_id}
    documents: dict                        # document id -> row (with text)
    participants: list[dict]
    memos: list[dict]
    created: str | None = None


def load_project(db: sqlite_utils.Database, filters) -> ProjectData:
    """Read the codings selected by `filters`, with who made each, and what they refer to."""
    from .export import select_quotes

    rows, codes = select_quotes(db, filters)
    pairs = {(r["segment_id"], r["code_id"]) for r in rows}
    segments = {s["id"]: s for s in db.query('select id, document_id, start, "end", participant_id from segments')}
    wanted_documents = {segments[s]["document_id"] for s, _ in pairs}
    everything = not _any_filter(filters)
    documents = {d["id"]: d for d in db.query("select id, title, kind, municipality_type, text from documents order by id")
                 if everything or d["id"] in wanted_documents}
    participants = [p for p in db.query("""select p.*, d.municipality_type from participants p
                                           join documents d on d.id = p.document_id order by p.id""")
                    if p["document_id"] in documents]
    runs = list(db.query("select finished from runs where finished is not null order by id desc limit 1"))
    return ProjectData(codes, rows, _codings_by_pair(db, rows, pairs), segments, documents, participants,
                       _memos(db, codes, {s for s, _ in pairs}, filters.finding), runs[0]["finished"] if runs else None)


def _memos(db, codes: dict, segment_ids: set, finding: str | None) -> list[dict]:
    """Memos on the exported codes and segments, and on the findings (only the one filtered on)."""
    wanted = {"code": set(codes), "segment": segment_ids}
    return [m for m in db.query("select * from memos order by created, id")
            if m["target_id"] in wanted.get(m["target_type"], set())
            or (m["target_type"] == "finding" and (not finding or m["target_id"] == finding))]


def _any_filter(filters) -> bool:
    return any(getattr(filters, name) for name in vars(filters))


def _codings_by_pair(db, rows: list[dict], pairs: set) -> dict:
    """Per selected (segment, code): one coding per human coder, or the rule or classifier that made it."""
    human: dict = {}
    for m in db.query("""select segment_id, code_id, coder, created from manual_codings
                         where decision in ('add', 'confirm') and status = 'anchored' order by rowid"""):
        if (m["segment_id"], m["code_id"]) in pairs:
            # One coding per coder: the same decision read twice (codings file, workbench) is one coding.
            human.setdefault((m["segment_id"], m["code_id"]), {}).setdefault(m["coder"] or "onbekend", m["created"])
    machine = {}
    for c in db.query("""select c.segment_id, c.code_id, c.source, c.model_version, r.codebook_hash, r.finished
                         from codings c left join runs r on r.id = c.run_id"""):
        if (c["segment_id"], c["code_id"]) in pairs:
            user = (f"qcode-classifier@{c['model_version'] or 'unknown'}" if c["source"] == "classifier"
                    else f"qcode-rules@{(c['codebook_hash'] or 'unknown')[:12]}")
            machine[(c["segment_id"], c["code_id"])] = {user: c["finished"]}
    out = {}
    for r in rows:
        pair = (r["segment_id"], r["code_id"])
        users = (human if r["source"] == "manual" else machine).get(pair, {})
        # The GUID names segment, code and user, so a coding keeps it through an import into another database.
        out[pair] = [{"guid": guid("coding", f"{pair[0]}:{pair[1]}:{user}"), "user": user, "created": created}
                     for user, created in users.items()]
    return out


def _datetime(value: str | None) -> str | None:
    """An xsd:dateTime, or None for anything else (the attribute is then left out)."""
    try:
        return dt.datetime.fromisoformat(value).isoformat() if value else None
    except ValueError:
        return None


def project_xml(data: ProjectData) -> bytes:
    """The `project.qde` document (Project.xsd) for the data."""
    ns = NS_PROJECT
    root = etree.Element(f"{{{ns}}}Project", {"name": "qcode export", "origin": f"qcode {__version__}"}, nsmap={None: ns})
    if data.created and _datetime(data.created):
        root.set("creationDateTime", _datetime(data.created))
    users = sorted({c["user"] for codings in data.codings.values() for c in codings} | {m["author"] or "onbekend" for m in data.memos})
    if users:
        users_el = _sub(root, ns, "Users")
        for name in users:
            _sub(users_el, ns, "User", {"guid": guid("user", name), "name": name, "id": name})
    notes = _note_targets(data)
    codes_el = _sub(_sub(root, ns, "CodeBook"), ns, "Codes")
    _code_elements(codes_el, ns, data.codes, None, notes["code"])
    _variables(root, data)
    _cases(root, data)
    _sources(root, data, notes["segment"])
    _notes(root, data)
    for note_guid in notes["project"]:
        _sub(root, ns, "NoteRef", {"targetGUID": note_guid})
    return _serialise(root)


def _note_targets(data: ProjectData) -> dict:
    """Note GUIDs by what they are about: a code, a segment (selection) or the project (findings)."""
    targets: dict = {"code": {}, "segment": {}, "project": []}
    for memo in data.memos:
        note = guid("note", memo["id"])
        if memo["target_type"] in ("code", "segment"):
            targets[memo["target_type"]].setdefault(memo["target_id"], []).append(note)
        else:
            targets["project"].append(note)
    return targets


def _variables(root, data: ProjectData) -> None:
    if not data.documents:
        return
    variables = _sub(root, NS_PROJECT, "Variables")
    for name in dict.fromkeys(CASE_VARIABLES + SOURCE_VARIABLES):
        _sub(variables, NS_PROJECT, "Variable", {"guid": guid("variable", name), "name": name, "typeOfVariable": "Text"})


def _variable_values(parent, row: dict, names: tuple) -> None:
    for name in names:
        if row.get(name):
            value = _sub(parent, NS_PROJECT, "VariableValue")
            _sub(value, NS_PROJECT, "VariableRef", {"targetGUID": guid("variable", name)})
            _sub(value, NS_PROJECT, "TextValue", text=str(row[name]))


def _selected_segments(data: ProjectData) -> dict[str, list[str]]:
    """Exported segment ids per document, in text order."""
    out: dict[str, list[str]] = {}
    for segment_id in dict.fromkeys(r["segment_id"] for r in data.rows):
        out.setdefault(data.segments[segment_id]["document_id"], []).append(segment_id)
    return {d: sorted(ids, key=lambda i: data.segments[i]["start"]) for d, ids in out.items()}


def _cases(root, data: ProjectData) -> None:
    """One case per participant: its attributes as variables, its document and its coded selections."""
    if not data.participants:
        return
    selected = _selected_segments(data)
    cases = _sub(root, NS_PROJECT, "Cases")
    for participant in data.participants:
        case = _sub(cases, NS_PROJECT, "Case", {"guid": guid("case", participant["id"]), "name": participant["id"]})
        _sub(case, NS_PROJECT, "Description", text=f"{participant['speaker']} in {participant['document_id']}")
        _variable_values(case, participant, CASE_VARIABLES)
        _sub(case, NS_PROJECT, "SourceRef", {"targetGUID": guid("document", participant["document_id"])})
        for segment_id in selected.get(participant["document_id"], []):
            if data.segments[segment_id]["participant_id"] == participant["id"]:
                _sub(case, NS_PROJECT, "SelectionRef", {"targetGUID": guid("selection", segment_id)})


def _sources(root, data: ProjectData, segment_notes: dict) -> None:
    """One TextSource per document (its text in sources/<guid>.txt), one selection per coded segment."""
    if not data.documents:
        return
    selected = _selected_segments(data)
    codes_of: dict = {}
    for row in data.rows:
        codes_of.setdefault(row["segment_id"], []).append(row["code_id"])
    sources = _sub(root, NS_PROJECT, "Sources")
    for doc_id, document in data.documents.items():
        source_guid = guid("document", doc_id)
        source = _sub(sources, NS_PROJECT, "TextSource", {"guid": source_guid, "name": doc_id,
                                                          "plainTextPath": f"internal://{source_guid}.txt"})
        _sub(source, NS_PROJECT, "Description", text=document["title"] or doc_id)
        for segment_id in selected.get(doc_id, []):
            segment = data.segments[segment_id]
            selection = _sub(source, NS_PROJECT, "PlainTextSelection", {
                "guid": guid("selection", segment_id), "name": segment_id,
                "startPosition": str(segment["start"]), "endPosition": str(segment["end"])})
            for code_id in codes_of[segment_id]:
                for coding in data.codings[(segment_id, code_id)]:
                    element = _sub(selection, NS_PROJECT, "Coding", {
                        "guid": coding["guid"], "creatingUser": guid("user", coding["user"]),
                        "creationDateTime": _datetime(coding["created"])})
                    _sub(element, NS_PROJECT, "CodeRef", {"targetGUID": guid("code", code_id)})
            for note_guid in segment_notes.get(segment_id, []):
                _sub(selection, NS_PROJECT, "NoteRef", {"targetGUID": note_guid})
        _variable_values(source, document, SOURCE_VARIABLES)


def _notes(root, data: ProjectData) -> None:
    if not data.memos:
        return
    notes = _sub(root, NS_PROJECT, "Notes")
    for memo in data.memos:
        note = _sub(notes, NS_PROJECT, "Note", {
            "guid": guid("note", memo["id"]), "name": f"memo bij {memo['target_type']} {memo['target_id']}",
            "creatingUser": guid("user", memo["author"] or "onbekend"), "creationDateTime": _datetime(memo["created"])})
        _sub(note, NS_PROJECT, "PlainTextContent", text=memo["text"] or "")


def _zip_member(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    # A fixed timestamp, so the same database gives a byte-identical archive.
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def qdpx_bytes(data: ProjectData) -> bytes:
    """The `.qdpx` archive: `project.qde` and one UTF-8 text per document in `sources/`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        _zip_member(archive, "project.qde", project_xml(data))
        for doc_id, document in data.documents.items():
            _zip_member(archive, f"sources/{guid('document', doc_id)}.txt", document["text"].encode("utf-8"))
    return buffer.getvalue()


# ================================================================ import: reading


def norm_guid(value: str | None) -> str:
    """GUIDs compare without braces and case ("{ABC-…}" is "abc-…")."""
    return (value or "").strip().strip("{}").lower()


@dataclass
class Element:
    """What the import needs of one XML element: its GUID, where it is (for messages) and attributes."""
    guid: str
    where: str
    attrs: dict = field(default_factory=dict)


@dataclass
class Selection(Element):
    start: int = 0
    end: int = 0
    codings: list = field(default_factory=list)      # [(Element of the Coding, code GUID, note texts)]
    notes: list = field(default_factory=list)


@dataclass
class Source(Element):
    name: str = ""
    text: str | None = None
    selections: list = field(default_factory=list)
    source_codings: int = 0


@dataclass
class Code(Element):
    name: str = ""
    parent: str | None = None
    description: str = ""


@dataclass
class Project:
    users: dict            # GUID -> name
    codes: list            # [Code], parents before children
    sources: list          # [Source]
    skipped: int = 0       # codings on other kinds of source (PDF, pictures, audio, video)


def _local(element) -> str:
    return etree.QName(element).localname


def _children(element, name: str) -> list:
    return [child for child in element if isinstance(child.tag, str) and _local(child) == name]


def _where(label: str, element) -> str:
    guid_text = f" guid={element.get('guid')!r}" if element.get("guid") else ""
    return f"{label} line {element.sourceline}: <{_local(element)}{guid_text}>"


def _element(label: str, element) -> dict:
    return {"guid": norm_guid(element.get("guid")), "where": _where(label, element), "attrs": dict(element.attrib)}


def parse_xml(data: bytes, label: str):
    """Parse untrusted XML (no entities, no network); a syntax error names the line."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else "?"
        raise QcodeError(f"{label} line {line}: malformed XML ({exc.msg}); nothing imported") from exc


def read_codes(root, label: str) -> list[Code]:
    """Every Code under the CodeBook's Codes (a qdc root or a project), parents before children."""
    out: list[Code] = []

    def walk(element, parent: str | None) -> None:
        for code in _children(element, "Code"):
            if not code.get("guid") or not code.get("name"):
                raise QcodeError(f"{_where(label, code)}: a Code needs a guid and a name; nothing imported")
            description = _children(code, "Description")
            out.append(Code(**_element(label, code), name=code.get("name"), parent=parent,
                            description=(description[0].text or "") if description else ""))
            walk(code, norm_guid(code.get("guid")))

    books = [root] if _local(root) == "CodeBook" else _children(root, "CodeBook")
    for book in books:
        for codes in _children(book, "Codes"):
            walk(codes, None)
    return out


def open_archive(path: Path) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise QcodeError(f"{path}: not a .qdpx archive (a ZIP file with project.qde) ({exc}); nothing imported") from exc
    for info in archive.infolist():
        if info.file_size > MAX_MEMBER_BYTES:
            raise QcodeError(f"{path}: {info.filename} unpacks to {info.file_size} bytes, more than qcode reads; nothing imported")
    return archive


def _member(archive: zipfile.ZipFile, name: str) -> str | None:
    """The archive member with this name, ignoring case ("Sources/" and "sources/" both occur)."""
    names = {n.lower(): n for n in archive.namelist()}
    return names.get(name.lower())


def read_project_root(archive: zipfile.ZipFile, path: Path):
    member = _member(archive, "project.qde")
    if member is None:
        raise QcodeError(f"{path}: no project.qde in the archive; nothing imported")
    label = f"{Path(path).name}/{member}"
    root = parse_xml(archive.read(member), label)
    if etree.QName(root).namespace != NS_PROJECT or _local(root) != "Project":
        raise QcodeError(f"{label} line {root.sourceline}: the root must be <Project xmlns=\"{NS_PROJECT}\">; nothing imported")
    return root, label


def check_references(root, label: str) -> None:
    """Every GUID is unique and every reference (targetGUID, creatingUser, …) points at an element."""
    seen: dict[str, object] = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or not element.get("guid"):
            continue
        key = norm_guid(element.get("guid"))
        if key in seen:
            raise QcodeError(f"{_where(label, element)}: duplicate GUID (also on line {seen[key].sourceline}); nothing imported")
        seen[key] = element
    users = {k for k, e in seen.items() if _local(e) == "User"}
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        target = element.get("targetGUID")
        if target is not None and norm_guid(target) not in seen:
            raise QcodeError(f"{_where(label, element)}: targetGUID {target!r} refers to no element of the project "
                             "(a dangling GUID reference); nothing imported")
        for attr in ("creatingUser", "modifyingUser", "creatingUserGUID", "modifyingUserGUID"):
            if element.get(attr) and norm_guid(element.get(attr)) not in users:
                raise QcodeError(f"{_where(label, element)}: {attr} {element.get(attr)!r} is no User of the project "
                                 "(a dangling GUID reference); nothing imported")


def read_project(path: Path) -> tuple[Project, str]:
    """Read and check a .qdpx: users, codes, text sources with their selections, codings and notes."""
    with open_archive(path) as archive:
        root, label = read_project_root(archive, path)
        check_references(root, label)
        users = {norm_guid(u.get("guid")): u.get("name") or u.get("id") or u.get("guid") for u in root.iter(f"{{{NS_PROJECT}}}User")}
        notes = {norm_guid(n.get("guid")): _text_of(n, "PlainTextContent") for n in root.iter(f"{{{NS_PROJECT}}}Note")}
        project = Project(users, read_codes(root, label), [])
        for sources in _children(root, "Sources"):
            for element in sources:
                if not isinstance(element.tag, str):
                    continue
                if _local(element) == "TextSource":
                    project.sources.append(_read_source(element, archive, label, notes))
                else:
                    project.skipped += sum(1 for e in element.iter(f"{{{NS_PROJECT}}}Coding"))
    return project, label


def _text_of(element, child: str) -> str:
    found = _children(element, child)
    return (found[0].text or "") if found else ""


def _read_source(element, archive: zipfile.ZipFile, label: str, notes: dict) -> Source:
    source = Source(**_element(label, element), name=element.get("name") or "")
    source.selections = [_read_selection(s, label, notes) for s in _children(element, "PlainTextSelection")]
    source.source_codings = len(_children(element, "Coding"))
    source.text = _source_text(element, archive, source.where)
    if source.text is None and any(s.codings for s in source.selections):
        raise QcodeError(f"{source.where}: its text is neither in PlainTextContent nor at an internal:// "
                         f"plainTextPath in the archive ({element.get('plainTextPath')!r}); nothing imported")
    for selection in source.selections:
        if source.text is not None and not 0 <= selection.start < selection.end <= len(source.text):
            raise QcodeError(f"{selection.where}: startPosition {selection.start} / endPosition {selection.end} is outside "
                             f"the text of source {source.name!r} ({len(source.text)} characters); nothing imported")
    return source


def _source_text(element, archive: zipfile.ZipFile, where: str) -> str | None:
    if _children(element, "PlainTextContent"):
        return _text_of(element, "PlainTextContent")
    path = element.get("plainTextPath") or ""
    member = _member(archive, "sources/" + path[len("internal://"):]) if path.startswith("internal://") else None
    if member is None:
        return None
    try:
        return archive.read(member).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise QcodeError(f"{where}: {member} is not UTF-8 text ({exc.reason} at byte {exc.start}); nothing imported") from exc


def _position(element, attr: str, where: str) -> int:
    try:
        return int(element.get(attr))
    except (TypeError, ValueError):
        raise QcodeError(f"{where}: {attr} {element.get(attr)!r} is not a whole number; nothing imported") from None


def _read_selection(element, label: str, notes: dict) -> Selection:
    selection = Selection(**_element(label, element))
    selection.start = _position(element, "startPosition", selection.where)
    selection.end = _position(element, "endPosition", selection.where)
    selection.notes = [notes[norm_guid(r.get("targetGUID"))] for r in _children(element, "NoteRef") if norm_guid(r.get("targetGUID")) in notes]
    for coding in _children(element, "Coding"):
        refs = _children(coding, "CodeRef")
        if not refs:
            raise QcodeError(f"{_where(label, coding)}: a Coding needs a CodeRef; nothing imported")
        coding_notes = [notes[norm_guid(r.get("targetGUID"))] for r in _children(coding, "NoteRef") if norm_guid(r.get("targetGUID")) in notes]
        selection.codings.append((Element(**_element(label, coding)), norm_guid(refs[0].get("targetGUID")), coding_notes))
    return selection


# ================================================================ import: qdpx -> manual codings


def normalise_newlines(text: str) -> tuple[str, list[int]]:
    """Text with \\r\\n and \\r as \\n, and the positions of the removed \\r (to convert offsets)."""
    return text.replace("\r\n", "\n").replace("\r", "\n"), [m.start() for m in re.finditer("\r\n", text)]


def shift_offset(offset: int, removed: list[int]) -> int:
    """An offset into the original text as an offset into the normalised one."""
    return offset - bisect.bisect_left(removed, offset)


def import_project(path: Path, db_path: Path) -> dict:
    """Import the human codings of a .qdpx as manual codings (decision 'add', origin 'refi:<file>', or
    'refi-review:<file>' where the selection also holds qcode's machine codings: a review).

    Each selection is mapped to the segments it overlaps in the matching document. Codings made by
    qcode's own rule and classifier users are skipped (every build recomputes them). Everything is
    checked before anything is written; the write is one transaction.
    """
    path, db_path = Path(path), Path(db_path)
    project, label = read_project(path)
    db = _target_database(db_path)
    code_ids = map_codes(project, db, label, path, db_path)
    rows, report = _manual_rows(project, db, code_ids, path.name, label)
    store.save_rows(db, "manual_codings", list(rows.values()))
    db.close()
    return report | {"imported": len(rows), "coders": sorted({r["coder"] for r in rows.values()})}


def _target_database(db_path: Path) -> sqlite_utils.Database:
    if not db_path.exists():
        raise QcodeError(f"{db_path}: no such database; run qcode build first")
    db = sqlite_utils.Database(str(db_path))
    if not (db["segments"].exists() and db["manual_codings"].exists()):
        raise QcodeError(f"{db_path}: not a qcode database (no segments or manual_codings table)")
    return db


def _is_machine(name: str) -> bool:
    return name.startswith(MACHINE_USER_PREFIXES)


def _coder(project: Project, coding: Element, selection: Selection) -> str:
    user = coding.attrs.get("creatingUser") or selection.attrs.get("creatingUser")
    return project.users.get(norm_guid(user), "refi-import") if user else "refi-import"


def map_codes(project: Project, db, label: str, path: Path, db_path: Path) -> dict[str, str]:
    """REFI code GUID -> code id in the database (by qcode's GUID, the id as name, or the label).
    A human coding with a code the codebook lacks is an error that lists every such code."""
    codes = [(c["id"], c["parent"], c["label"]) for c in db.query("select id, parent, label from codes")]
    refi = {c.guid: c for c in project.codes}
    mapping = match_codes(project.codes, codes)
    unknown: dict[str, str] = {}
    for source in project.sources:
        for selection in source.selections:
            for coding, code_guid, _ in selection.codings:
                if code_guid not in refi:
                    raise QcodeError(f"{coding.where}: its CodeRef {code_guid!r} is not a Code of the codebook; nothing imported")
                if mapping[code_guid] is None and not _is_machine(_coder(project, coding, selection)):
                    unknown[code_guid] = f"{refi[code_guid].name!r} ({refi[code_guid].where})"
    if unknown:
        raise QcodeError(f"codings in {label} use codes that are not in the codebook of {db_path}: {', '.join(unknown.values())}. "
                         f"Add them first to the codebook {db_path} was built with (qcode import --format qdc {path} "
                         "--codebook YOUR_CODEBOOK.yaml), rebuild, and "
                         "import again; nothing imported")
    return mapping


def match_document(source: Source, documents: dict[str, str]) -> str | None:
    """The document a source is: by name (qcode's document id), by qcode's GUID, or by identical text."""
    if source.name in documents:
        return source.name
    for doc_id in documents:
        if guid("document", doc_id) == source.guid:
            return doc_id
    text = normalise_newlines(source.text or "")[0]
    return next((d for d, t in documents.items() if t == text or t.strip() == text.strip()), None)


def _document_span(selection: Selection, text: str, removed: list[int], doc_id: str,
                   doc_text: str) -> tuple[int, int]:
    """The selection's span in the document's text; found by its quote when the texts differ."""
    start, end = shift_offset(selection.start, removed), shift_offset(selection.end, removed)
    if text == doc_text:
        return start, end
    quote = text[start:end]
    hits = [m.start() for m in re.finditer(re.escape(quote), doc_text)]
    if not hits:
        raise QcodeError(f"{selection.where}: its text {quote[:60]!r} is not in document {doc_id!r} (the source "
                         "text differs from the database's); nothing imported")
    best = min(hits, key=lambda h: abs(h - start))
    return best, best + len(quote)


def _overlapping(segments: list[dict], doc_text: str, start: int, end: int) -> list[dict]:
    """Segments sharing more than whitespace with [start, end)."""
    return [s for s in segments if s["start"] < end and start < s["end"]
            and doc_text[max(start, s["start"]):min(end, s["end"])].strip()]


def _manual_rows(project: Project, db, code_ids: dict, file_name: str, label: str) -> tuple[dict, dict]:
    documents = {d["id"]: d["text"] for d in db.query("select id, text from documents")}
    segments: dict[str, list[dict]] = {}
    for s in db.query('select id, document_id, start, "end", text from segments order by document_id, start'):
        segments.setdefault(s["document_id"], []).append(s)
    existing = {(m["segment_id"], m["code_id"], m["coder"]) for m in db.query(
        "select segment_id, code_id, coder from manual_codings where decision in ('add', 'confirm') and status = 'anchored'")}
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    rows: dict[str, dict] = {}
    report = {"machine": 0, "present": 0, "whole_source": project.skipped, "between_segments": 0, "sources": 0}
    for source in project.sources:
        report["whole_source"] += source.source_codings
        if not any(s.codings for s in source.selections):
            continue
        doc_id = match_document(source, documents)
        if doc_id is None:
            raise QcodeError(f"{source.where}: matches no document of the database (by name, qcode GUID or "
                             f"identical text) ({source.name!r}); nothing imported")
        report["sources"] += 1
        text, removed = normalise_newlines(source.text)
        for selection in source.selections:
            if not selection.codings:
                continue
            start, end = _document_span(selection, text, removed, doc_id, documents[doc_id])
            hit = _overlapping(segments.get(doc_id, []), documents[doc_id], start, end)
            report["between_segments"] += 0 if hit else len(selection.codings)
            coders = [_coder(project, coding, selection) for coding, _, _ in selection.codings]
            # In a qcode export the machine's codings stand beside a coder's only where she left
            # them standing in the workbench (on a segment coded from scratch they are not
            # exported): her codings there are a review.
            origin = f"{REVIEW_ORIGIN if any(map(_is_machine, coders)) else 'refi:'}{file_name}"
            for (coding, code_guid, notes), coder in zip(selection.codings, coders):
                if _is_machine(coder):
                    report["machine"] += 1
                    continue
                for segment in hit:
                    key = (segment["id"], code_ids[code_guid], coder)
                    if key in existing:
                        report["present"] += 1
                        continue
                    row = _manual_row(segment, doc_id, code_ids[code_guid], coder, file_name, origin,
                                      _datetime(coding.attrs.get("creationDateTime")) or now, selection.notes + notes)
                    rows[row["id"]] = row
    report["reviewed"] = sum(row["origin"].startswith(REVIEW_ORIGIN) for row in rows.values())
    return rows, report


def _manual_row(segment: dict, doc_id: str, code_id: str, coder: str, file_name: str, origin: str, created: str,
                notes: list) -> dict:
    key = f"refi\x1f{file_name}\x1f{segment['id']}\x1f{code_id}\x1f{coder}"
    return {"id": hashlib.sha1(key.encode()).hexdigest()[:16], "segment_id": segment["id"], "document_id": doc_id,
            "code_id": code_id, "coder": coder, "decision": "add", "created": created, "origin": origin,
            "anchor_text": segment["text"][:200], "status": "anchored",
            "note": "\n\n".join(n for n in notes if n) or None}


# ================================================================ import: qdc -> codebook.yaml


def import_codebook(path: Path, codebook_path: Path, output: Path | None = None) -> dict:
    """Add the codes of a .qdc (or of a .qdpx's codebook) that the codebook lacks.

    Codes are matched by qcode's GUID, by id (as name) or by label; matched codes stay as they are.
    New codes are appended to the `codes:` list (comments and layout kept), under their parent.
    The result is validated with `load_codebook` before it replaces `output` (default: the codebook).
    """
    from .codebook import load_codebook

    path, codebook_path = Path(path), Path(codebook_path)
    root, label = _codebook_root(path)
    codes = read_codes(root, label)
    if not codes:
        raise QcodeError(f"{label}: no Code in the codebook; nothing imported")
    entries, existing = new_code_entries(codes, load_codebook(codebook_path))
    target = Path(output) if output else codebook_path
    if entries or target != codebook_path:
        write_codebook(append_codes(codebook_path.read_text(encoding="utf-8"), entries, path.name), target)
    return {"codes": len(codes), "existing": existing, "new": [e["id"] for e in entries], "output": str(target)}


def _codebook_root(path: Path):
    if zipfile.is_zipfile(path):
        with open_archive(path) as archive:
            return read_project_root(archive, path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise QcodeError(f"{path}: cannot read ({exc})") from exc
    root = parse_xml(data, path.name)
    if etree.QName(root).namespace != NS_CODEBOOK or _local(root) != "CodeBook":
        raise QcodeError(f"{path.name} line {root.sourceline}: the root must be <CodeBook xmlns=\"{NS_CODEBOOK}\">; nothing imported")
    return root, path.name


def match_codes(codes: list[Code], known: list[tuple[str, str | None, str]],
                mapped: dict[str, str] | None = None) -> dict[str, str | None]:
    """REFI code GUID -> the known code (id, parent, label) it is: by qcode's GUID, by id as name,
    or by label under the same parent (a sub-code "Taal" under "Werk" is not the theme "Taal").
    A code at the top, or under a parent that matched nothing, matches a label anywhere (a tool
    that flattened the tree). Parents come before their children in `codes`; `mapped` (filled
    in) holds the codes matched or added so far."""
    mapped = {} if mapped is None else mapped
    ids = {code_id for code_id, _, _ in known}
    by_guid = {guid("code", code_id): code_id for code_id in ids}
    by_label = {(parent, (label or "").casefold()): code_id for code_id, parent, label in known}
    anywhere = {(label or "").casefold(): code_id for code_id, _, label in reversed(known)}   # the first wins
    for code in codes:
        if code.guid in mapped:
            continue
        parent = mapped.get(code.parent) if code.parent else None
        label = code.name.casefold()
        mapped[code.guid] = (by_guid.get(code.guid) or (code.name if code.name in ids else None)
                             or by_label.get((parent, label)) or (anywhere.get(label) if parent is None else None))
    return mapped


def new_code_entries(codes: list[Code], codebook) -> tuple[list[dict], list[str]]:
    """Codebook entries for the codes the codebook lacks, and the ids of those it has."""
    known = [(c.id, c.parent, c.label) for c in codebook.codes]
    ids = {c.id for c in codebook.codes}
    mapped: dict[str, str] = {}
    entries, existing = [], []
    for code in codes:
        found = match_codes([code], known, mapped)[code.guid]
        if found:
            existing.append(found)
            continue
        parent = mapped.get(code.parent) if code.parent else None
        code_id = new_code_id(code.name, parent, ids)
        ids.add(code_id)
        mapped[code.guid] = code_id
        entries.append(_code_entry(code, code_id, parent))
    return entries, existing


def new_code_id(name: str, parent: str | None, taken: set[str]) -> str:
    """A valid, unused code id from a name: "Wachten op huisvesting" under taal -> taal.wachten_op_huisvesting."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_name).strip("_") or "code"
    if not slug[0].isalpha():
        slug = f"code_{slug}"
    base = f"{parent}.{slug}" if parent else slug
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}_{number}", number + 1
    return candidate


def split_description(text: str) -> tuple[str, str, str]:
    """Definition, inclusion and exclusion notes from a Description written as qcode writes it."""
    parts: dict[str, list[str]] = {"definition": [], "include": [], "exclude": []}
    for line in (text or "").splitlines():
        stripped = line.strip()
        for prefix, key in (("Wel:", "include"), ("Niet:", "exclude")):
            if stripped.startswith(prefix):
                parts[key].append(stripped[len(prefix):].strip())
                break
        else:
            parts["definition"].append(stripped)
    return tuple(" ".join(" ".join(parts[k]).split()) for k in ("definition", "include", "exclude"))


def _code_entry(code: Code, code_id: str, parent: str | None) -> dict:
    definition, include, exclude = split_description(code.description)
    colour = code.attrs.get("color") or DEFAULT_COLOUR
    if re.fullmatch(r"#[0-9a-fA-F]{3}", colour):
        colour = "#" + "".join(c * 2 for c in colour[1:])
    entry = {"id": code_id, "parent": parent, "label": code.name, "colour": _colour(colour).lower(),
             "definition": definition or code.name, "include": include, "exclude": exclude}
    return {k: v for k, v in entry.items() if v}


def append_codes(text: str, entries: list[dict], origin: str = "REFI-QDA") -> str:
    """The codebook text with entries appended to its `codes:` list. When that is a block list, the
    entries are inserted as text after its last code (comments stay, and so do the keys after it,
    such as `teaching_examples`); otherwise the file is rewritten."""
    if not entries:
        return text
    block = yaml.safe_dump(entries, allow_unicode=True, sort_keys=False, width=100)
    root = yaml.compose(text)
    codes = next((value for key, value in root.value if key.value == "codes"), None) if isinstance(root, yaml.MappingNode) else None
    if isinstance(codes, yaml.SequenceNode) and codes.value and not codes.flow_style:
        indent = " " * codes.start_mark.column
        origin = " ".join(origin.split())   # a file name stays on the comment line
        block = f"# Imported from {origin} (qcode import): check definitions and add rules.\n" + block
        end = text.find("\n", _content_end(codes.value[-1]))     # the end of the last code's line
        before, after = (text, "") if end == -1 else (text[:end], text[end:].lstrip("\n"))
        inserted = "".join(indent + line if line.strip() else line for line in block.splitlines(True)).rstrip("\n")
        return before.rstrip("\n") + "\n\n" + inserted + ("\n\n" + after if after.strip() else "\n")
    data = yaml.safe_load(text) or {}
    data["codes"] = list(data.get("codes") or []) + entries
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def _content_end(node) -> int:
    """Where a YAML node's own text ends: its last scalar or flow collection, not the comments after it."""
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        return node.end_mark.index
    children = [v for pair in node.value for v in pair] if isinstance(node, yaml.MappingNode) else list(node.value)
    return max((_content_end(child) for child in children), default=node.start_mark.index)


def write_codebook(text: str, target: Path) -> None:
    """Write a codebook only when it loads: an invalid merge leaves the target as it was."""
    from .codebook import load_codebook

    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    try:
        load_codebook(tmp)
    except CodebookError as exc:
        tmp.unlink()
        raise QcodeError(f"the merged codebook would be invalid, {target} is unchanged:\n  " + "\n  ".join(exc.problems)) from exc
    os.replace(tmp, target)
