"""Datasette metadata for a qcode database: titles, descriptions and canned queries.

Canned queries take named parameters; none is built by string formatting.
"""

from __future__ import annotations

from pipeline.store import RUN_CODINGS_SQL, RUN_DIFF_SQL

CANNED_QUERIES = {
    "quotes_for_code": {
        "title": "Quotes for a code (with sub-codes), with role and municipality type",
        "sql": """select q.segment_id, q.code_id, q.source, round(q.score, 2) as score, q.role, q.municipality,
       q.municipality_type, q.kind, q.date, q.text
from quotes q
where q.code_id in (select id from codes where id = :code or parent = :code or theme = :code)
  and (:role = '' or q.role = :role)
  and (:municipality_type = '' or q.municipality_type = :municipality_type)
order by q.document_id, q.segment_id""",
        "params": ["code", "role", "municipality_type"],
    },
    "code_by_role": {
        "title": "Code × role: segments per code and role category",
        "sql": """select code_id, role, count(*) as segments from segment_codes
group by code_id, role order by code_id, segments desc""",
    },
    "code_cooccurrence": {
        "title": "Code co-occurrence: segments carrying both codes",
        "sql": """select a.code_id as code_a, b.code_id as code_b, count(distinct a.segment_id) as segments
from segment_codes a join segment_codes b on a.segment_id = b.segment_id and a.code_id < b.code_id
group by a.code_id, b.code_id order by segments desc""",
    },
    "finding_quotes": {
        "title": "A finding with the quotes that support it",
        "sql": """select f.id as finding, f.statement, f.value, f.unit, f.source, fc.code_id, s.role,
       d.municipality_type, d.kind, s.text, s.id as segment_id
from findings f
join finding_codes fc on fc.finding_id = f.id
join segment_codes sc on sc.code_id = fc.code_id and sc.role not in (select role from uncoded_roles)
join segments s on s.id = sc.segment_id
join documents d on d.id = s.document_id
where f.id = :finding
order by s.role, s.document_id, s.seq""",
        "params": ["finding"],
    },
    "run_diff": {
        "title": "What a coding run changed, per code (segments gained and lost)",
        "sql": RUN_DIFF_SQL,
        "params": ["run_a", "run_b"],
    },
    "run_codings": {
        "title": "The machine and manual codings that counted in one coding run",
        "sql": RUN_CODINGS_SQL + "\norder by code_id, segment_id",
        "params": ["run"],
    },
}


def build_metadata(database_name: str, users_file: str | None = None, login_to_read: bool = False) -> dict:
    """Metadata for `datasette serve`: the database's canned queries and the plugin's settings.
    `users_file`: the researchers' logins, named by path only: Datasette serves its metadata at
    /-/metadata.json, so the password hashes must not be in it. `login_to_read`: every page needs a
    researcher's login, not only the writes (a server others can reach); Datasette's own `allow`
    block denies its pages too, should the plugin's check miss one."""
    metadata = {
        "title": "qcode: gecodeerde, geanonimiseerde citaten",
        "description": "Anonymised, coded quotes. Workbench: /-/qcode",
        "databases": {
            database_name: {
                "queries": CANNED_QUERIES,
                "tables": {
                    "segments": {"sortable_columns": ["seq", "document_id", "role"],
                                 "facets": ["role", "document_id"], "searchmode": "raw"},
                    "codings": {"facets": ["code_id", "source", "theme"]},
                    "manual_codings": {"facets": ["coder", "decision", "status"]},
                },
            }
        },
        "plugins": {"qcode": {"database": database_name, "users_file": users_file, "login_to_read": login_to_read}},
    }
    if login_to_read:
        metadata["allow"] = {"qcode": True}
    return metadata
