"""qcode: anonymise, segment and code Dutch qualitative evidence into SQLite for Datasette.

Data flows one way: corpus -> ingest -> anonymise -> segment -> code -> store -> Datasette/export.
"""

__version__ = "0.1.0"
