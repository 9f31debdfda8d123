"""Documented bounds on what callers send: every value is checked where it enters (README, "Limits").

Unbounded values broke the service for everyone: a ``reuseIfNewerThan`` of 1e15 seconds overflowed
the worker's date arithmetic on every pass, a NUL byte failed PostgreSQL's whole group commit, deep
JSON nesting or a 5,000-digit number raised inside the parser.
"""

from __future__ import annotations

# Durations a caller may give (reuseIfNewerThan, ?wait=): finite, not negative, at most a year.
MAX_DURATION_SECONDS = 366 * 86400.0
# JSON bodies: nesting depth (objects and arrays) and the digits of one integer.
MAX_JSON_DEPTH = 32
MAX_INT_DIGITS = 40
