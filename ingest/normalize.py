"""Text decoding and normalisation shared by every source.

The firm's archive mixes UTF-8, GBK/GB18030 (old CMS exports) and BIG5 (Hong
Kong and Taiwan clients), so bytes are decoded by detection, not by trust.
"""
from __future__ import annotations

import json
import re
import unicodedata

from charset_normalizer import from_bytes


class DecodeError(ValueError):
    """Bytes that are not text in any encoding we accept (binary, garbage)."""


# Every byte except the control characters that do not occur in text (tab, newlines, form feed, ESC do).
_NOT_CONTROL = bytes(b for b in range(256) if not (b < 32 and b not in (9, 10, 12, 13, 27)))


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\x00" in head:
        return True
    control = len(head.translate(None, _NOT_CONTROL))  # counted in C: this runs once per JSONL line
    return control > max(8, len(head) // 50)


def _control_heavy(text: str) -> bool:
    """Decoded text that is mostly not text: NULs, control characters or replacement marks."""
    head = text[:4096]
    bad = sum(1 for ch in head if (ch < " " and ch not in "\t\n\r\x0c\x1b") or ch == "\ufffd")
    return bad > max(8, len(head) // 50)


# Longest first: the UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)


def bom_encoding(data: bytes) -> tuple[str, int] | None:
    """(codec, BOM length) when `data` starts with a byte-order mark."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec, len(bom)
    return None


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 saved without a BOM (Windows tools do this), recognised by what it decodes to.

    Binary data decoded as UTF-16 scatters over the whole code space; text
    decodes almost only to ASCII, CJK and punctuation. The byte order that
    gives such text wins.
    """
    if len(data) < 4 or len(data) % 2:
        return None
    best, best_share = None, 0.0
    for codec in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        share = _text_share(text)
        if share > best_share:
            best, best_share = text, share
    return best if best_share >= 0.95 else None


def _text_share(text: str) -> float:
    """The share of characters that ordinary Chinese or English prose is made of."""
    head = text[:4096]
    if not head:
        return 0.0
    good = sum(
        1 for ch in head
        if (" " <= ch <= "~") or ch in "\t\n\r" or "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f"
        or "\uff00" <= ch <= "\uffef" or "\u2000" <= ch <= "\u206f" or "\u00a0" <= ch <= "\u00ff"
    )
    return good / len(head)


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Decode bytes of unknown encoding; raise DecodeError for binary data.

    Order: a BOM (UTF-8, UTF-16, UTF-32), then the declared charset, then
    strict UTF-8, then UTF-16 without a BOM, then the best of GB18030, BIG5
    and UTF-8 with its invalid bytes replaced, chosen by which yields more
    common Chinese characters (a GBK file decodes "successfully" as BIG5 into
    nonsense, and a UTF-8 file with one broken byte decodes as GB18030
    mojibake, so strictness alone cannot decide).
    """
    bom = bom_encoding(data)
    if bom is not None:
        text = data[bom[1]:].decode(bom[0], errors="replace")
        if bom[0] != "utf-8" and _control_heavy(text):
            raise DecodeError("binary file (not text)")
        return text
    if declared and _alias(declared).startswith(("utf-16", "utf-32")):
        try:
            return data.decode(_alias(declared))
        except (LookupError, UnicodeDecodeError):
            pass
    if _looks_binary(data):
        text = _utf16_without_bom(data)
        if text is None:
            raise DecodeError("binary file (not text)")
        return text
    if declared:
        try:
            return data.decode(_alias(declared))
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return _decode_legacy_or_broken(data)


def _decode_legacy_or_broken(data: bytes) -> str:
    """Bytes that are not valid UTF-8: GB18030, BIG5, or UTF-8 with a few bad bytes."""
    decoded: dict[str, str] = {}
    for enc in ("gb18030", "big5"):
        try:
            decoded[enc] = data.decode(enc)
        except UnicodeDecodeError:
            continue
    utf8 = data.decode("utf-8", errors="replace")
    broken = utf8.count("\ufffd")
    if decoded:
        legacy = max(decoded.values(), key=_common_cjk_score)
        # a replacement mark costs as much as a common character gains: UTF-8 Chinese with one bad
        # byte keeps its hundreds of common characters, a GBK page read as UTF-8 keeps none
        if _common_cjk_count(utf8) - broken > _common_cjk_count(legacy):
            return utf8
        return legacy
    if broken <= max(16, len(utf8) // 10):  # neither GB18030 nor BIG5: UTF-8 with some damage
        return utf8
    best = from_bytes(data).best()
    if best is None:
        raise DecodeError("cannot decode as UTF-8, GB18030 or BIG5")
    return str(best)


# The 500 most frequent Chinese characters, roughly; enough to tell a correct
# decoding from mojibake, which is dominated by rare characters.
_COMMON = set(
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广王律师债务借款逾期催收违法犯罪合同劳动离婚赔偿"
)


def _common_cjk_count(text: str) -> int:
    return sum(1 for ch in text if ch in _COMMON)


def _common_cjk_score(text: str) -> float:
    cjk = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    if not cjk:
        return 0.0
    return sum(1 for ch in cjk if ch in _COMMON) / len(cjk)


def _alias(name: str) -> str:
    name = name.strip().lower()
    return {"gbk": "gb18030", "gb2312": "gb18030", "big5-hkscs": "big5hkscs"}.get(name, name)


_SPACES = re.compile(r"[ \t\u00a0\u3000\u200b\ufeff]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")
# Full-width punctuation that NFKC would fold to ASCII; in Chinese prose the
# full-width form is the correct one, so it is kept.
_KEEP = set("！？，；：（）～")
_TO_FULL = {",": "，", "?": "？", "!": "！", ";": "；", ":": "：", "(": "（", ")": "）"}
_HALF_PUNCT_IN_CJK = re.compile(
    r"(?<=[\u4e00-\u9fff\u3002\uff0c\u201d\u300b\uff09])\s*([,?!;:()])|([,?!;:()])(?=\s*[\u4e00-\u9fff\u201c\u300a])"
)


class _NfkcTable(dict):
    """code point -> its NFKC form (the kept full-width marks map to themselves), filled on first use.

    `str.translate` looks each character up in C; a character is normalised in
    Python only the first time it is seen, so a 55,000-article export costs a
    few thousand `unicodedata.normalize` calls instead of 27 million.
    """

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        out = ch if ch in _KEEP else unicodedata.normalize("NFKC", ch)
        self[code] = out
        return out


_NFKC = _NfkcTable()


def _nfkc_keep_cjk_punct(text: str) -> str:
    """Each character NFKC-normalised on its own, except the full-width marks Chinese prose uses."""
    if text.isascii():
        return text
    return text.translate(_NFKC)


def _widen(match: re.Match[str]) -> str:
    return _TO_FULL[match.group(1) or match.group(2)]


_SURROGATE = re.compile("[\ud800-\udfff]")
# Characters str.splitlines() treats as line breaks: made plain newlines, so the chunker and
# everything after it see the same lines. Other control characters are dropped.
_LINE_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# control characters, and the bidirectional controls (U+202E and kin, = ingest.ids.BIDI_CONTROLS) that can
# make a title or body display in another order than it reads
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def scrub_surrogates(text: str) -> str:
    """Join surrogate pairs and replace lone surrogates with U+FFFD.

    JSON may escape half of an emoji ("\\ud83d") and YAML decodes "\\ud83d\\ude00"
    as two code points; either kind of string cannot be encoded as UTF-8, so
    hashing or storing it would fail the whole run.
    """
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def normalize_text(text: str) -> str:
    """NFKC (full-width letters/digits -> ASCII), Chinese punctuation, spaces.

    NFKC alone would turn "吗？" into "吗?"; the firm writes full-width
    punctuation, and half-width marks next to Chinese characters (a common
    artefact of text extraction) are widened, so titles read as written.
    Line structure (headings, list items) is kept: the chunker needs it.
    Lone surrogates become U+FFFD; control characters and bidirectional overrides are dropped.
    """
    text = scrub_surrogates(text)
    text = _CONTROLS.sub("", _LINE_BREAKS.sub("\n", text))
    text = _nfkc_keep_cjk_punct(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = []
    for line in text.split("\n"):
        line = _SPACES.sub(" ", line).strip()
        line = _HALF_PUNCT_IN_CJK.sub(_widen, line)
        lines.append(line)
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


_TAG_SEPARATORS = re.compile(r"[,，、;；]")


def parse_tags(value: object) -> list[str]:
    """Tags from a front-matter or CMS field: a list of texts, or one text separated by , ， 、 ;.

    Whole numbers in a list are taken as text (YAML reads `[劳动, 2024]` as a
    text and a number). Anything else (a lone number, true/false, an object,
    a nested list) is a ValueError naming what was found, so the caller reports
    it; nothing is ever stored as a Python repr.
    """
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items: list[object] = list(_TAG_SEPARATORS.split(value))
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ValueError(f"tags must be a list of texts or one comma-separated text, found {describe(value)}")
    tags: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise ValueError(f"tags must be texts, found {describe(item)} in the list")
        tag = normalize_text(str(item)).replace("\n", " ").strip()
        if tag and tag not in tags:
            tags.append(tag)
    return tags


_KINDS = {
    bool: "true/false", int: "a number", float: "a number", list: "a list", tuple: "a list", dict: "an object",
}


def describe(value: object) -> str:
    """What a field held, for a reason a person can act on: 'a list ["拖欠", "工资"]'.

    Written as JSON (what the CMS export and the YAML author see), shortened,
    and bounded in depth and length: a record nested 10,000 deep or a YAML
    alias bomb is described in a few dozen characters without walking it.
    """
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return f"the text {preview(value)}"
    kind = next((name for typ, name in _KINDS.items() if isinstance(value, typ)), type(value).__name__)
    if isinstance(value, bool):
        return f"{kind} ({preview(value)})"
    return f"{kind} {preview(value)}"


def preview(value: object, depth: int = 0) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value) if len(str(value)) <= 30 else f"{str(value)[:27]}..."
    if isinstance(value, str):
        text = scrub_surrogates(value)
        return json.dumps(text if len(text) <= 40 else text[:40] + "…", ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        if depth >= 2:
            return "[…]"
        inner = ", ".join(preview(v, depth + 1) for v in value[:3])
        return f"[{inner}{', …' if len(value) > 3 else ''}]"
    if isinstance(value, dict):
        if depth >= 2:
            return "{…}"
        items = list(value.items())[:3]
        inner = ", ".join(f"{preview(str(k), depth + 1)}: {preview(v, depth + 1)}" for k, v in items)
        return f"{{{inner}{', …' if len(value) > 3 else ''}}}"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return type(value).__name__
