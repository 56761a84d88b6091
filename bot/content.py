"""Content references (URLs and ids) in a canonical form, so duplicates match."""

from __future__ import annotations

import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PREFIXES = ("utm_",)
TRACKING_PARAMS = frozenset({"fbclid", "gclid", "igshid", "mc_cid", "mc_eid", "ref_src", "si"})


def normalize(raw: str) -> tuple[str, str]:
    """``(kind, normalized)`` for one content reference: kind is "url" or "id".

    URLs: NFKC, lower-case scheme and host, default ports, fragments, tracking
    parameters and trailing slashes dropped, remaining parameters sorted.
    Ids: NFKC, trimmed, lower-cased.
    """
    text = unicodedata.normalize("NFKC", raw).strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return "id", text.lower()
    host = (parts.hostname or "").lower().removeprefix("www.")
    try:
        port = parts.port
    except ValueError:  # "host:abc" is not a URL we can canonicalise
        return "id", text.lower()
    if port and (parts.scheme.lower(), port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(TRACKING_PREFIXES) and k.lower() not in TRACKING_PARAMS
    )
    path = parts.path.rstrip("/")
    return "url", urlunsplit(("https", host, path, urlencode(query), ""))
