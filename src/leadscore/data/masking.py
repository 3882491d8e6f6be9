"""Hide the secrets in source strings and messages before they are logged, tagged or shown.

A source (see :mod:`leadscore.data.sources`) may carry credentials: a password in a
database URL (``postgresql://me:s3cret@db/crm``), a secret in its query string
(``?password=…``, ``?aws_secret_access_key=…``, ``?api_secret=…``) or a whole secret as
the user part of a URL (``mixpanel://SECRET@123``). :func:`mask_source` replaces each of
them with ``***`` and leaves the rest readable; :func:`mask_text` does the same for every
URL and ``name=value`` pair inside a longer text, such as an error message. Both are
cheap and never raise, so they can be called at every place a source is printed.

Example
-------
>>> mask_source("postgresql://me:s3cret@db:5432/crm?table=leads")
'postgresql://me:***@db:5432/crm?table=leads'
>>> mask_text("cannot read s3://AKIA:wJal@bucket/x.csv?token=abc (access denied)")
'cannot read s3://AKIA:***@bucket/x.csv?token=*** (access denied)'
"""

from __future__ import annotations

import re
from pathlib import Path

#: what replaces a secret
MASK = "***"

#: query-string and option names whose values are secrets (compared in lower case, with
#: ``-`` read as ``_``)
SECRET_NAMES = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "secret",
        "api_secret",
        "client_secret",
        "secret_key",
        "secret_access_key",
        "aws_secret_access_key",
        "aws_session_token",
        "session_token",
        "security_token",
        "x_amz_security_token",
        "x_amz_signature",
        "x_amz_credential",
        "signature",
        "token",
        "access_token",
        "refresh_token",
        "auth_token",
        "api_key",
        "apikey",
        "key",
        "sslpassword",
        "sslkey_password",
        "credentials",
        "auth",
        "authorization",
    }
)

#: schemes whose whole user part is a secret (``mixpanel://API_SECRET@PROJECT``)
_SECRET_USER_SCHEMES = frozenset({"mixpanel", "s3"})

# ``scheme:/`` or ``scheme://`` (a URL that went through Path keeps one slash), then the
# user part: ``user@`` or ``user:password@``, the password running to the last "@" before
# the query (an unencoded "@" in it hides a little of the host rather than show the rest)
_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*):(?P<slashes>/{1,3})"
    r"(?P<user>[^\s/@:'\"<>?#]*)(?::(?P<password>[^\s'\"<>?#]*))?@"
)
# ``name=value`` in a query string, an option list or a message; the value ends at "&",
# whitespace, a quote or a closing bracket
_PAIR = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9_\-.]*)(?P<eq>=|%3[Dd])(?P<value>[^&\s'\"<>),;]+)")


def _is_secret_name(name: str) -> bool:
    lowered = name.lower().replace("-", "_")
    last = lowered.rsplit(".", 1)[-1]  # e.g. "options.password"
    return lowered in SECRET_NAMES or last in SECRET_NAMES


def _userinfo(match: re.Match[str]) -> str:
    scheme, slashes, user = match["scheme"], match["slashes"], match["user"]
    if match["password"] is not None:
        return f"{scheme}:{slashes}{user}:{MASK}@"
    if scheme.lower() in _SECRET_USER_SCHEMES and user:
        return f"{scheme}:{slashes}{MASK}@"
    return match.group(0)


def _pair(match: re.Match[str]) -> str:
    if _is_secret_name(match["name"]):
        return f"{match['name']}{match['eq']}{MASK}"
    # the value may hold pairs of its own: ``options=-c%20password%3D…``
    return f"{match['name']}{match['eq']}{_PAIR.sub(_pair, match['value'])}"


def mask_text(text: str) -> str:
    """``text`` with the credentials of every URL and every secret ``name=value`` in it
    replaced by ``***``.

    Example
    -------
    >>> mask_text("query failed on postgresql://u:pw@db/crm?sslpassword=x&sslmode=require")
    'query failed on postgresql://u:***@db/crm?sslpassword=***&sslmode=require'
    >>> mask_text("table 'password' not found")
    "table 'password' not found"
    """
    if "@" in text:
        text = _USERINFO.sub(_userinfo, text)
    if "=" in text or "%3" in text:
        text = _PAIR.sub(_pair, text)
    return text


def mask_source(source: object) -> str:
    """How to show ``source`` anywhere: its text with every secret replaced by ``***``.

    Paths and URLs give their text, a DataFrame or a prepared table the name of its type.

    Example
    -------
    >>> mask_source("mixpanel://API_SECRET@123?from=2025-01-01&to=2025-01-31")
    'mixpanel://***@123?from=2025-01-01&to=2025-01-31'
    >>> mask_source("s3://bucket/leads.csv?aws_secret_access_key=wJal")
    's3://bucket/leads.csv?aws_secret_access_key=***'
    >>> mask_source(Path("data/leads.csv"))
    'data/leads.csv'
    """
    if isinstance(source, str | Path):
        return mask_text(str(source))
    return type(source).__name__
