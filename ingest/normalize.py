"""Text decoding and normalisation shared by every source.

The firm's archive mixes UTF-8, GBK/GB18030 (old CMS exports) and BIG5 (Hong
Kong and Taiwan clients), so bytes are decoded by detection, not by trust.
"""
from __future__ import annotations

import re
import unicodedata

from charset_normalizer import from_bytes


class DecodeError(ValueError):
    """Bytes that are not text in any encoding we accept (binary, garbage)."""


_CANDIDATES = ("utf-8", "gb18030", "big5")


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\x00" in head:
        return True
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return control > max(8, len(head) // 50)


def _cjk_share(text: str) -> float:
    if not text:
        return 0.0
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    return cjk / len(text)


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Decode bytes of unknown encoding; raise DecodeError for binary data.

    Order: a BOM, then the declared charset, then strict UTF-8, then GB18030
    vs BIG5 chosen by which yields more common CJK text (a GBK file decodes
    "successfully" as BIG5 into nonsense, so strictness alone cannot decide).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if _looks_binary(data):
        raise DecodeError("binary file (not text)")
    if declared:
        try:
            return data.decode(_alias(declared))
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    decoded: dict[str, str] = {}
    for enc in ("gb18030", "big5"):
        try:
            decoded[enc] = data.decode(enc)
        except UnicodeDecodeError:
            continue
    if len(decoded) == 2:
        return max(decoded.values(), key=_common_cjk_score)
    if decoded:
        return next(iter(decoded.values()))
    best = from_bytes(data).best()
    if best is None:
        raise DecodeError("cannot decode as UTF-8, GB18030 or BIG5")
    return str(best)


# The 500 most frequent Chinese characters, roughly; enough to tell a correct
# decoding from mojibake, which is dominated by rare characters.
_COMMON = set(
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广王律师债务借款逾期催收违法犯罪合同劳动离婚赔偿"
)


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


def _nfkc_keep_cjk_punct(text: str) -> str:
    if text.isascii():
        return text
    return "".join(ch if ch in _KEEP else unicodedata.normalize("NFKC", ch) for ch in text)


def _widen(match: re.Match[str]) -> str:
    return _TO_FULL[match.group(1) or match.group(2)]


def normalize_text(text: str) -> str:
    """NFKC (full-width letters/digits -> ASCII), Chinese punctuation, spaces.

    NFKC alone would turn "吗？" into "吗?"; the firm writes full-width
    punctuation, and half-width marks next to Chinese characters (a common
    artefact of text extraction) are widened, so titles read as written.
    Line structure (headings, list items) is kept: the chunker needs it.
    """
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

    Numbers are taken as text; anything else (an object, a nested list) is a
    ValueError with a reason, so the record is skipped and reported, never
    stored as a Python repr.
    """
    if value is None or value == "":
        return []
    items = _TAG_SEPARATORS.split(value) if isinstance(value, str) else value
    if isinstance(items, (int, float)) and not isinstance(items, bool):
        items = [items]
    if not isinstance(items, (list, tuple)):
        raise ValueError(f"tags must be text or a list of texts, not {type(value).__name__}")
    tags: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise ValueError(f"tags must be texts, found {type(item).__name__}")
        tag = normalize_text(str(item)).strip()
        if tag and tag not in tags:
            tags.append(tag)
    return tags
