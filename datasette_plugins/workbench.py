"""Plain functions behind the workbench pages: each takes a sqlite3 connection and returns data.

No Datasette imports here, so every function is unit-tested on a real SQLite file. Corpus text is
returned raw; templates escape it (Jinja autoescape) and `highlight` escapes every piece itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import re
import sqlite3

from markupsafe import Markup, escape

from pipeline.diff import changes_by_code, codebook_changes, recorded_runs, renamed_codes, run_inputs
from pipeline.store import SUPPORTING_ROLE, fts_match, query_words

# Matrix dimension -> (column of segment_codes, label).
MATRIX_DIMENSIONS = {
    "role": ("role", "Rol"),
    "municipality": ("municipality", "Gemeente (pseudoniem)"),
    "municipality_type": ("municipality_type", "Type gemeente"),
    "size_class": ("size_class", "Grootteklasse"),
    "region": ("region", "Regio"),
    "urbanisation": ("urbanisation", "Stedelijkheid"),
    "kind": ("kind", "Soort document"),
}
# Dutch words for the names the pages show (the values in URLs and the database stay English).
DUTCH = {**{name: label for name, (_, label) in MATRIX_DIMENSIONS.items()}, "cooccurrence": "Samen gecodeerd",
         "code": "Code", "with_code": "samen met code", "source": "Bron", "status": "Rapportstatus",
         "interview": "interview", "group_interview": "groepsgesprek", "focus_group": "focusgroep", "minutes": "notulen",
         "field_notes": "veldnotities", "case_notes": "dossiernotities", "email": "e-mail", "report": "rapport",
         "rule": "regel", "classifier": "model", "manual": "handmatig",
         "selected": "geselecteerd", "sent": "voorgelegd", "approved": "goedgekeurd", "withdrawn": "ingetrokken",
         "confirm": "bevestigd", "reject": "afgewezen", "add": "toegevoegd",
         "rejected": "afgewezen door codeur", "none": "codeur: geen code", "left out": "codeur liet weg",
         "added": "toegevoegd", "removed": "verwijderd", "renamed or merged": "hernoemd of samengevoegd",
         "rules edited": "regels gewijzigd",
         "description edited": "omschrijving gewijzigd"}
DECISIONS = ("confirm", "reject", "add", "none")
QUOTE_STATUSES = ("", "selected", "sent", "approved", "withdrawn")


def rows(conn: sqlite3.Connection, sql: str, params=()) -> list[dict]:
    conn.row_factory = sqlite3.Row
    return [dict(r) for r in conn.execute(sql, params)]


def ink(colour: str) -> str:
    """Black or white text, whichever contrasts more with a badge of this colour ('#rrggbb', WCAG
    contrast ratio): white below a relative luminance of 0.179, where both contrast equally."""
    try:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    except (ValueError, TypeError):
        return "#fff"
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#000" if luminance > 0.179 else "#fff"


def highlight(text: str, spans: list[list[int]] | None, colour: str = "#ffe066") -> Markup:
    """Segment text with rule spans marked; every piece of corpus text is escaped."""
    spans = sorted({(s, e) for s, e in (spans or []) if 0 <= s < e <= len(text)})
    out, cursor = [], 0
    for start, end in spans:
        if start < cursor:
            continue
        out.append(escape(text[cursor:start]))
        out.append(Markup('<mark style="background:%s">%s</mark>') % (colour, escape(text[start:end])))
        cursor = end
    out.append(escape(text[cursor:]))
    return Markup("").join(out)


def codes_by_id(conn) -> dict[str, dict]:
    return {c["id"]: c for c in rows(conn, "select * from codes order by sort")}


def segment_codes(conn, segment_ids: list[str]) -> dict[str, list[dict]]:
    if not segment_ids:
        return {}
    marks = ",".join("?" * len(segment_ids))
    out: dict[str, list[dict]] = {}
    for row in rows(conn, f"""select sc.*, c.colour, c.label, c.parent from segment_codes sc
                             join codes c on c.id = sc.code_id where sc.segment_id in ({marks})
                             order by c.sort""", segment_ids):
        row["spans"] = json.loads(row["spans"]) if row.get("spans") else []
        out.setdefault(row["segment_id"], []).append(row)
    return out


def coder_conflicts(manual: list[dict]) -> list[str]:
    """Codes of a segment that one coder gave (added or confirmed) and another rejected, by each
    coder's latest decision: the add counts (see store.SEGMENT_CODES_SELECT), so say so."""
    latest: dict[tuple[str, str], str] = {}
    for row in sorted(manual, key=lambda r: r.get("created") or ""):
        if row.get("status") == "anchored" and row.get("code_id"):
            latest[(row["code_id"], row["coder"])] = row["decision"]
    given = {code for (code, _), decision in latest.items() if decision in ("add", "confirm")}
    rejected = {code for (code, _), decision in latest.items() if decision == "reject"}
    return sorted(given & rejected)


def quote(conn, segment_id: str) -> dict | None:
    """A segment with its document, neighbours, codes, rule spans, findings, memos and review state."""
    found = rows(conn, """select s.*, d.title, d.kind, d.date, d.municipality, d.municipality_type,
                          d.size_class, d.region, d.urbanisation from segments s join documents d
                          on d.id = s.document_id where s.id = ?""", [segment_id])
    if not found:
        return None
    segment = found[0]
    codes = segment_codes(conn, [segment_id]).get(segment_id, [])
    spans = [span for c in codes for span in c["spans"]]
    context = rows(conn, "select id, seq, speaker, role, text from segments where document_id = ? and seq between ? and ? order by seq",
                   [segment["document_id"], segment["seq"] - 1, segment["seq"] + 1])
    return {
        "segment": segment, "codes": codes, "html": highlight(segment["text"], spans),
        "context": context,
        "findings": rows(conn, """select * from findings where id in (select finding_id from finding_codes where
                                  code_id in (select code_id from segment_codes where segment_id = ?)) order by id""", [segment_id]),
        # The machine's codes that do not count here (a coder rejected them, said "geen andere
        # code", or coded the segment from scratch without them): shown, so a reviewer can still
        # confirm one.
        "set_aside": rows(conn, """select c.code_id, c.source, c.score, c.rule_id, k.label, k.colour from codings c
                                   join codes k on k.id = c.code_id where c.segment_id = ? and c.code_id not in
                                   (select code_id from segment_codes where segment_id = ?) order by k.sort""",
                          [segment_id, segment_id]),
        "manual": (manual := rows(conn, "select * from manual_codings where segment_id = ? order by created", [segment_id])),
        "conflicts": coder_conflicts(manual),
        "memos": rows(conn, "select * from memos where target_type = 'segment' and target_id = ? order by created", [segment_id]),
        **quote_status_of(conn, segment_id),
    }


def quote_status_of(conn, segment_id: str) -> dict:
    """The quote's report status, and its row (who set it, when) or None."""
    row = (rows(conn, "select status, updated_by, updated from quote_status where segment_id = ?", [segment_id]) or [None])[0]
    return {"status": row["status"] if row else "", "status_row": row}


def document(conn, document_id: str, code: str | None = None) -> dict | None:
    found = rows(conn, "select * from documents where id = ?", [document_id])
    if not found:
        return None
    segments = rows(conn, "select * from segments where document_id = ? order by seq", [document_id])
    codes = segment_codes(conn, [s["id"] for s in segments])
    for s in segments:
        s["codes"] = codes.get(s["id"], [])
        s["html"] = highlight(s["text"], [span for c in s["codes"] for span in c["spans"]])
        s["shown"] = not code or any(c["code_id"] == code or c.get("parent") == code for c in s["codes"])
        s["outside_scope"] = bool(json.loads(s.get("attrs") or "{}").get("outside_scope"))
    coded = [s["id"] for s in segments if s["codes"] and s["shown"]]
    for s in segments:
        later = [i for i in coded if segments_index(segments, i) > s["seq"]]
        s["next_coded"] = later[0] if later else None
    return {"document": found[0], "segments": segments, "code": code, "codes_present": sorted({c["code_id"] for cs in codes.values() for c in cs})}


def segments_index(segments: list[dict], segment_id: str) -> int:
    for s in segments:
        if s["id"] == segment_id:
            return s["seq"]
    return -1


def codebook_tree(conn) -> list[dict]:
    counts = {r["code_id"]: r["n"] for r in rows(conn, "select code_id, count(*) as n from segment_codes group by code_id")}
    codes = rows(conn, "select * from codes order by sort")
    for c in codes:
        c["count"] = counts.get(c["id"], 0)
        c["examples"] = json.loads(c["examples"] or "[]")
        c["rules"] = json.loads(c["rules"] or "[]")
    return codes


def memos_by_target(conn, target_type: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for memo in rows(conn, "select * from memos where target_type = ? order by created", [target_type]):
        out.setdefault(memo["target_id"], []).append(memo)
    return out


QUOTES_PER_ROLE = 25    # the finding page shows this many quotes per role; counts cover them all
# A finding is weak when fewer than two role categories of people support it (minutes and
# unknown speakers are no such category). SUPPORTING_ROLE: what supports it (store.py).
# A quote its speaker withdrew supports nothing (the exports leave it out too).
NOT_WITHDRAWN = "segment_id not in (select segment_id from quote_status where status = 'withdrawn')"
NO_VOICE = ("notulen", "onbekend")


def finding(conn, finding_id: str) -> dict | None:
    found = rows(conn, "select * from findings where id = ?", [finding_id])
    if not found:
        return None
    codes = [r["code_id"] for r in rows(conn, "select code_id from finding_codes where finding_id = ?", [finding_id])]
    supporting = f"""select distinct segment_id, role, document_id, kind, municipality, municipality_type
                     from segment_codes where code_id in ({",".join("?" * len(codes)) or "''"})
                     and {SUPPORTING_ROLE} and {NOT_WITHDRAWN}"""
    per_role = rows(conn, f"""select role, count(distinct segment_id) as n, count(distinct document_id) as documents
                               from ({supporting}) group by role""", codes)
    counts = {r["role"] or "onbekend": r["n"] for r in per_role}
    quotes = rows(conn, f"""select * from (
        select s.id, s.text, s.role, s.document_id, sc.kind, sc.municipality, sc.municipality_type,
               row_number() over (partition by s.role order by s.document_id, s.seq) as n
        from ({supporting}) sc join segments s on s.id = sc.segment_id) where n <= ? order by role, n""",
        codes + [QUOTES_PER_ROLE])
    badges = segment_codes(conn, [q["id"] for q in quotes])
    documents = {r["role"] or "onbekend": r["documents"] for r in per_role}
    groups: dict[str, dict] = {role: {"count": n, "documents": documents[role], "quotes": []}
                               for role, n in sorted(counts.items())}
    for q in quotes:
        q["badges"] = badges.get(q["id"], [])
        q["html"] = highlight(q["text"], [span for c in q["badges"] if c["code_id"] in codes for span in c["spans"]])
        groups[q["role"] or "onbekend"]["quotes"].append(q)
    distinct = lambda column: [r["v"] for r in rows(
        conn, f"select distinct {column} as v from ({supporting}) where {column} is not null order by 1", codes)]
    roles = sorted(groups)
    voices = [r for r in roles if r not in NO_VOICE]      # role categories of people: what the page counts
    # Which of the quotes a researcher coded (or confirmed) with one of the finding's codes: the
    # others count on the machine's word alone.
    by_hand = rows(conn, f"""select count(distinct segment_id) as n from segment_codes where source = 'manual'
                             and code_id in ({",".join("?" * len(codes)) or "''"}) and {SUPPORTING_ROLE} and {NOT_WITHDRAWN}""",
                  codes)[0]["n"]
    totals = rows(conn, f"select count(distinct segment_id) as quotes, count(distinct document_id) as documents "
                        f"from ({supporting})", codes)[0]
    triangulation = {"roles": roles, "voices": voices, "municipalities": distinct("municipality"), "kinds": distinct("kind"),
                     "quotes": totals["quotes"], "documents": totals["documents"], "by_hand": by_hand}
    return {"finding": found[0], "codes": codes, "groups": groups, "triangulation": triangulation,
            "weak": len(voices) < 2,
            "memos": rows(conn, "select * from memos where target_type = 'finding' and target_id = ? order by created", [finding_id])}


def findings_overview(conn) -> list[dict]:
    """Every finding with its number of supporting quotes and role categories (one query)."""
    out = rows(conn, f"""select f.*, count(distinct sc.segment_id) as quotes,
        count(distinct case when sc.role not in {NO_VOICE!r} then sc.role end) as roles
        from findings f left join finding_codes fc on fc.finding_id = f.id
        left join segment_codes sc on sc.code_id = fc.code_id and sc.{SUPPORTING_ROLE} and sc.{NOT_WITHDRAWN}
        group by f.id order by f.id""")
    for f in out:
        f["weak"] = f["roles"] < 2
    return out


def matrix(conn, dimension: str) -> dict:
    """Counts of coded segments per code and attribute value (or per code pair for co-occurrence)."""
    codes = rows(conn, "select id, label, colour, parent from codes order by sort")
    # The row total: the code's segments (summing a co-occurrence row would count pairs).
    totals = {r["code_id"]: r["n"] for r in rows(conn, "select code_id, count(*) as n from segment_codes group by code_id")}
    if dimension == "cooccurrence":
        cells = cooccurrence(conn)
        columns = [c["id"] for c in codes]
    else:
        # segment_codes holds one row per segment and code, so count(*) counts segments.
        column = MATRIX_DIMENSIONS[dimension][0]
        cells = {(r["row"], r["col"]): r["n"] for r in rows(
            conn, f"select code_id as row, coalesce({column}, 'onbekend') as col, count(*) as n "
                  f"from segment_codes group by code_id, {column}")}
        columns = sorted({col for _, col in cells})
    peak = max(cells.values(), default=1)
    return {"dimension": dimension, "codes": codes, "columns": columns, "cells": cells, "peak": peak, "totals": totals,
            "peak_total": max(totals.values(), default=1)}


def cooccurrence(conn) -> dict[tuple[str, str], int]:
    """Segments carrying both codes, per code pair. SQL first reduces the segments to their distinct
    code sets (a few hundred even at 100x the demo corpus); the pairs are counted from those, which
    is an order of magnitude faster than a self-join of segment_codes."""
    cells: dict[tuple[str, str], int] = {}
    for code_set in rows(conn, """select codes, count(*) as n from (select group_concat(code_id, ' ') as codes
                                  from segment_codes group by segment_id) group by codes"""):
        present = set(code_set["codes"].split(" "))
        for a, b in itertools.permutations(present, 2):
            cells[(a, b)] = cells.get((a, b), 0) + code_set["n"]
    return cells


def heat(n: int, peak: int) -> str:
    """Cell background: white to deep blue by share of the largest cell."""
    share = n / peak if peak else 0
    return f"rgba(31, 119, 180, {0.08 + 0.82 * share:.2f})" if n else "transparent"


def fts_query_is_valid(conn, query: str) -> bool:
    """Whether SQLite's FTS5 takes `query` as it stands, operators and all (`B1-route` it does not:
    "no such column: route")."""
    try:
        conn.execute("select 1 from segments_fts where segments_fts match ? limit 1", [query]).fetchall()
    except sqlite3.OperationalError:
        return False
    return True


def search(conn, query: str, lemmas: list[str], filters: dict, limit: int = 100) -> dict:
    """Full-text search over segment text and lemmas, with facets by code, role, type and source."""
    match = fts_match(query, lemmas)
    if match is None and not any(filters.values()):
        return {"results": [], "facets": {}, "total": 0}
    terms = [w.lower() for w in query_words(query)]
    where, params = (["segments_fts match ?"], [match]) if match else (["1 = 1"], [])
    for column, key in (("s.role", "role"), ("d.municipality_type", "municipality_type")):
        if filters.get(key):
            where.append(f"{column} = ?")
            params.append(filters[key])
    for key in ("code", "with_code"):       # with_code: a co-occurrence cell (segments with both codes)
        if filters.get(key):
            where.append("s.id in (select segment_id from segment_codes where code_id = ? or theme = ?)")
            params += [filters[key], filters[key]]
    if filters.get("source"):
        where.append("s.id in (select segment_id from segment_codes where source = ?)")
        params.append(filters["source"])
    if filters.get("status"):
        where.append("s.id in (select segment_id from quote_status where status = ?)")
        params.append(filters["status"])

    def source(join: str = "") -> str:
        text_search = "segments_fts join segments s on s.rowid = segments_fts.rowid" if match else "segments s"
        return f"from {text_search} join documents d on d.id = s.document_id {join} where {' and '.join(where)}"

    base, with_codes = source(), source("join segment_codes sc on sc.segment_id = s.id")
    order = "rank" if match else "s.document_id, s.seq"         # no words: in reading order
    results = rows(conn, f"select s.id, s.text, s.role, s.document_id, d.municipality_type, d.kind, "
                         f"(select status from quote_status q where q.segment_id = s.id) as status {base} order by {order} limit ?",
                   params + [limit])
    codes = segment_codes(conn, [r["id"] for r in results])
    for r in results:
        r["codes"] = codes.get(r["id"], [])
        r["html"] = _mark_terms(r["text"], terms, lemmas)
    facets = {
        "code": rows(conn, f"select sc.code_id as value, count(*) as n {with_codes} group by 1 order by n desc", params),
        "role": rows(conn, f"select s.role as value, count(*) as n {base} group by 1 order by n desc", params),
        "municipality_type": rows(conn, f"select d.municipality_type as value, count(*) as n {base} group by 1 order by n desc", params),
        "status": rows(conn, f"select q.status as value, count(*) as n {source('join quote_status q on q.segment_id = s.id')} group by 1 order by n desc", params),
        "source": rows(conn, f"select sc.source as value, count(distinct s.id) as n {with_codes} group by 1 order by n desc", params),
    }
    total = rows(conn, f"select count(*) as n {base}", params)[0]["n"]
    return {"results": results, "facets": facets, "total": total}


def _mark_terms(text: str, terms: list[str], lemmas: list[str]) -> Markup:
    stems = sorted({t for t in terms + (lemmas or []) if len(t) >= 3}, key=len, reverse=True)
    spans = []
    for stem in stems:
        for m in re.finditer(r"\b" + re.escape(stem[:max(3, len(stem) - 2)]) + r"\w*", text, re.IGNORECASE):
            spans.append([m.start(), m.end()])
    return highlight(text, spans, "#b3e5fc")


def last_run_diff(conn, run_a: int | None = None, run_b: int | None = None) -> dict:
    """What the codings changed between two runs: the last two, unless both runs are given and
    recorded (`runs`: every run, for the page's choice)."""
    runs = recorded_runs(conn)
    by_id = {r["id"]: r for r in runs}
    if run_a not in by_id or run_b not in by_id:
        if len(runs) < 2:
            return {"runs": runs, "codes": {}, "run_a": None, "run_b": runs[-1]["id"] if runs else None}
        run_a, run_b = runs[-2]["id"], runs[-1]["id"]
    renamed = renamed_codes(by_id[run_a], by_id[run_b])
    return {"runs": runs, "run_a": run_a, "run_b": run_b, "inputs": run_inputs(by_id[run_a], by_id[run_b]),
            "codebook_changes": codebook_changes(by_id[run_a], by_id[run_b]),
            "codes": changes_by_code(conn, run_a, run_b, renamed)}


# ---------------------------------------------------------------- writes (logged-in researchers only)


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def record_decision(conn, segment_id: str, code_id: str, decision: str, coder: str, note: str = "") -> dict:
    """Store a researcher's confirm / reject / add as a manual coding (survives every rebuild).
    "none" (no code, or no other code than the coders gave) is a toggle: a second one withdraws it."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}")
    segment = rows(conn, "select id, document_id, text from segments where id = ?", [segment_id])
    code_id = "" if decision == "none" else code_id
    if not segment or (decision != "none" and not rows(conn, "select id from codes where id = ?", [code_id])):
        raise ValueError("unknown segment or code")
    row = {
        "id": hashlib.sha1(f"workbench\x1f{segment_id}\x1f{code_id}\x1f{coder}".encode()).hexdigest()[:16],
        "segment_id": segment_id, "document_id": segment[0]["document_id"], "code_id": code_id, "coder": coder,
        "decision": decision, "created": now(), "origin": "workbench", "anchor_text": segment[0]["text"][:200],
        "status": "anchored", "note": note or None,
    }
    if decision == "none" and rows(conn, "select id from manual_codings where id = ?", [row["id"]]):
        conn.execute("delete from manual_codings where id = ?", [row["id"]])
        conn.commit()
        return row
    conn.execute("""insert or replace into manual_codings (id, segment_id, document_id, code_id, coder, decision,
                    created, origin, anchor_text, status, note) values (:id, :segment_id, :document_id, :code_id,
                    :coder, :decision, :created, :origin, :anchor_text, :status, :note)""", row)
    conn.commit()
    return row


def add_memo(conn, target_type: str, target_id: str, author: str, text: str) -> dict:
    if target_type not in ("segment", "code", "finding") or not text.strip():
        raise ValueError("a memo needs a target (segment, code or finding) and text")
    row = {"id": hashlib.sha1(f"{target_type}\x1f{target_id}\x1f{author}\x1f{now()}\x1f{text}".encode()).hexdigest()[:16],
           "target_type": target_type, "target_id": target_id, "author": author, "created": now(), "text": text.strip()}
    conn.execute("insert or replace into memos (id, target_type, target_id, author, created, text) values "
                 "(:id, :target_type, :target_id, :author, :created, :text)", row)
    conn.commit()
    return row


class StaleStatus(ValueError):
    """The report status changed since the page that sets it was opened."""


def set_quote_status(conn, segment_id: str, status: str, author: str, seen: str | None = None) -> None:
    """A quote's report status. `seen` is the status's time as the researcher's page showed it
    ("" for none): when another researcher changed it since, nothing is written (an approval by
    the speaker must not be overwritten from a page opened before it)."""
    if status not in QUOTE_STATUSES:
        raise ValueError(f"status must be one of {QUOTE_STATUSES}")
    text = rows(conn, "select text from segments where id = ?", [segment_id])
    if not text:
        raise ValueError("unknown segment")
    current = rows(conn, "select status, updated_by, updated from quote_status where segment_id = ?", [segment_id])
    if seen is not None and ((current[0]["updated"] or "") if current else "") != seen:
        row = current[0] if current else {"updated_by": "?", "updated": "?", "status": ""}
        raise StaleStatus(f"De rapportstatus is intussen gewijzigd door {row['updated_by']} ({row['updated']}): "
                          f"{DUTCH.get(row['status'], row['status']) or 'geen'}. Er is niets opgeslagen; "
                          "open het citaat opnieuw en kies dan.")
    conn.execute("insert or replace into quote_status (segment_id, status, updated_by, updated, anchor_text) values (?, ?, ?, ?, ?)",
                 [segment_id, status, author, now(), text[0]["text"][:200]])
    conn.commit()


# ---------------------------------------------------------------- passwords


def hash_password(password: str, salt: str | None = None, iterations: int = 200_000) -> str:
    salt = salt or hashlib.sha256(dt.datetime.now().isoformat().encode()).hexdigest()[:16]
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations).hex()
    return f"pbkdf2_sha256${iterations}${salt}${digest}"


def check_password(password: str, stored: str) -> bool:
    try:
        algorithm, iterations, salt, digest = stored.split("$")
    except (ValueError, AttributeError):
        return False
    if algorithm != "pbkdf2_sha256":
        return False
    candidate = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations)).hex()
    return hmac.compare_digest(candidate, digest)
