"""Data files shipped with qcode: allow-list, name lists, findings."""
