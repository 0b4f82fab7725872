"""The message catalogue (``i18n/zh.json`` and ``i18n/en.json``) and the request's language.

Chinese by default; English on request: ``?lang=en`` (remembered in a cookie), the
``medlake_lang`` cookie, or ``Accept-Language``. Both catalogues must have exactly the same keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from starlette.requests import Request

from medlake.errors import ConfigError

LANGUAGES = ("zh", "en")
LANG_COOKIE = "medlake_lang"
_DIR = Path(__file__).with_name("i18n")


@lru_cache(maxsize=1)
def catalogues() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        raw = json.loads((_DIR / f"{lang}.json").read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            raise ConfigError(f"i18n/{lang}.json must map keys to strings")
        out[lang] = raw
    keys = {lang: set(cat) for lang, cat in out.items()}
    if keys["zh"] != keys["en"]:
        diff = sorted(keys["zh"] ^ keys["en"])
        raise ConfigError(f"i18n catalogues differ in keys: {diff[:10]}")
    return out


def translator(lang: str) -> Callable[..., str]:
    catalogue = catalogues()[lang if lang in LANGUAGES else "zh"]

    def t(key: str, **values: object) -> str:
        try:
            text = catalogue[key]
        except KeyError:
            raise ConfigError(f"missing message {key!r} in the i18n catalogue") from None
        return text.format(**values) if values else text

    return t


def pick_language(request: Request, default: str) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGUAGES:
        return cookie
    accept = request.headers.get("accept-language", "")
    for part in accept.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return default if default in LANGUAGES else "zh"
