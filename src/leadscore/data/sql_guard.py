"""The parse check of a SQL source's query: one ``SELECT``, nothing that writes.

:func:`leadscore.data.sql.read_sql` runs every query on a read-only connection; this
check comes first, refuses what is not a single ``SELECT`` and says why, so a query that
would write is refused with a clear message on every database (also those without a
read-only mode).
"""

from __future__ import annotations

import re

#: words that make a statement write or change the schema (``WITH … DELETE``, ``SELECT …
#: INTO``, ``FOR UPDATE``); a SQL source refuses a query with any of them outside quotes
#: and comments. Other statements cannot hide in one that starts with SELECT.
WRITE_WORDS = frozenset(
    {
        "ALTER", "ATTACH", "CREATE", "DELETE", "DETACH", "DROP", "GRANT", "INSERT", "INTO",
        "MERGE", "PRAGMA", "REINDEX", "REVOKE", "TRUNCATE", "UPDATE", "VACUUM",
    }
)  # fmt: skip
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_STARTS_SELECT = re.compile(r"[\s(]*(SELECT|WITH)\b", re.IGNORECASE)


def _code(query: str, backslash_escapes: bool, brackets: bool) -> str | None:
    """``query`` with its string literals, quoted names and comments blanked out (``None``:
    one of them is not closed).

    Databases differ: ``backslash_escapes`` reads ``\\'`` inside a string as a quote (as
    PostgreSQL's ``E'…'`` strings do), ``brackets`` reads ``[name]`` and ```name``` as
    quoted names and ``$`` as a parameter, as SQLite does (PostgreSQL indexes arrays with
    ``[`` and quotes with ``$tag$``). The caller checks
    every reading, so what one database would run as code is never taken for a string.
    """
    quotes = "'\"`[" if brackets else "'\""
    out: list[str] = []
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char in quotes:
            close = "]" if char == "[" else char
            j = i + 1
            while True:
                if j >= n:
                    return None
                if backslash_escapes and query[j] == "\\":
                    j += 2
                    continue
                if query[j] == close:
                    if close != "]" and j + 1 < n and query[j + 1] == close:  # '' and ""
                        j += 2
                        continue
                    break
                j += 1
            out.append(" ")
            i = j + 1
        elif query.startswith("--", i):
            end = query.find("\n", i)
            i = n if end < 0 else end
            out.append(" ")
        elif query.startswith("/*", i):
            end = query.find("*/", i + 2)
            if end < 0:
                return None
            out.append(" ")
            i = end + 2
        elif char == "$" and not brackets and (match := _DOLLAR_TAG.match(query, i)):
            end = query.find(match.group(0), match.end())
            if end < 0:
                return None
            out.append(" ")
            i = end + len(match.group(0))
        else:
            out.append(char)
            i += 1
    return "".join(out)


def check_select(query: str) -> str | None:
    """Why ``query`` may not be run as a SQL source, or ``None`` when it is one read-only
    ``SELECT`` (``WITH … SELECT`` included).

    Refused: more than one statement (a ``;`` other than a last one), anything that does
    not start with ``SELECT``/``WITH``, and any of :data:`WRITE_WORDS` (``INSERT``,
    ``DELETE``, ``DROP``, ``SELECT … INTO``, ``FOR UPDATE``, …) outside quotes and
    comments. The read-only connection stays the guarantee; this check refuses early and
    says why.

    Example
    -------
    >>> check_select("SELECT * FROM leads WHERE note = 'drop; me'") is None
    True
    >>> check_select("SELECT 1; DROP TABLE leads")
    'it holds more than one statement'
    >>> check_select("DELETE FROM leads")
    'it is not a SELECT (it starts with DELETE)'
    """
    readings = [_code(query, *how) for how in ((False, False), (True, False), (False, True))]
    if any(code is None for code in readings):
        return "a quote, quoted name or comment in it is not closed"
    for code in readings:
        assert code is not None
        statement = code.strip()
        if statement.endswith(";"):
            statement = statement[:-1].rstrip()
        if not statement:
            return "it is empty"
        if ";" in statement:
            return "it holds more than one statement"
        words = [word.upper() for word in _WORD.findall(statement)]
        if not _STARTS_SELECT.match(statement):
            return f"it is not a SELECT (it starts with {statement.lstrip('(').split()[0]})"
        writes = sorted(set(words) & WRITE_WORDS)
        if writes:
            return (
                f"it contains {', '.join(writes)}, which a read-only SELECT does not need "
                f'(a column of that name must be quoted: "{writes[0].lower()}")'
            )
    return None
