"""Personal data out of questions before anything is stored.

    redact("我手机 138 1234 5678，身份证 11010519491231002X")
    -> "我手机 【手机号】，身份证 【身份证号】"

People paste their phone number, ID number, bank card or licence plate into a
legal question ("我的卡6222…被冻结了"). The question log keeps questions for
90 days to show the firm what it has no article for; it must not keep those
numbers. Everything here is a regular expression over a NFKC-normalised copy
of the text (so full-width digits and letters match), with the matches mapped
back onto the original text: only the personal data changes, every other
character is kept as typed.

Ordinary numbers in legal questions are the hard part: amounts (借了20000元),
dates (2024-01-15), statute numbers (第1032条), durations, years. The patterns
are anchored so that a longer digit run never yields a shorter match inside
it, and the ambiguous cases use a check that ordinary numbers fail: the date
structure of an ID number, and the Luhn digit of a bank card.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

PHONE = "【手机号】"
LANDLINE = "【电话】"
ID_CARD = "【身份证号】"
BANK_CARD = "【银行卡号】"
EMAIL = "【邮箱】"
PLATE = "【车牌号】"
QQ = "【QQ号】"
WECHAT = "【微信号】"
NUMBER = "【号码】"  # a 16-19 digit number that is neither a valid card nor an ID: still identifying

# Separators people type inside numbers (after NFKC a full-width space or dash is ASCII).
_SEP = r"[ \-]"
_NOT_DIGIT_BEFORE = r"(?<![0-9])"
_NOT_DIGIT_AFTER = r"(?![0-9])"
_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_ALNUM_AFTER = r"(?![0-9A-Za-z])"

_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9])"
)

# Only with a keyword in front: a bare 5-11 digit number is far more often an amount.
_QQ_RE = re.compile(
    r"(?i)(?:(?<![A-Za-z])qq(?![A-Za-z])|扣扣)(?:号码?)?\s*(?:是|为)?\s*[:：]?\s*(?P<v>[1-9][0-9]{4,11})"
    + _NOT_DIGIT_AFTER
)
_WECHAT_RE = re.compile(
    r"(?i)(?:微信|(?<![A-Za-z])(?:weixin|wechat|vx|wx)(?![A-Za-z]))\s*(?:号|id)?\s*(?:是|为)?\s*[:：]?\s*"
    r"(?P<v>[A-Za-z][A-Za-z0-9_\-]{5,19})"
    + _NOT_ALNUM_AFTER
)

_DATE8 = r"(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_DATE6 = r"[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
# Region (6) + birth date (8) + sequence (3) + check (digit or X); people sometimes space the groups.
_ID18_RE = re.compile(
    _NOT_ALNUM_BEFORE + r"[1-9][0-9]{5}" + _SEP + r"?" + _DATE8 + _SEP + r"?[0-9]{3}[0-9Xx]" + _NOT_ALNUM_AFTER
)
_ID15_RE = re.compile(_NOT_ALNUM_BEFORE + r"[1-9][0-9]{5}" + _DATE6 + r"[0-9]{3}" + _NOT_ALNUM_AFTER)

_CARD_RUN_RE = re.compile(_NOT_ALNUM_BEFORE + r"[0-9]{16,19}" + _NOT_ALNUM_AFTER)
# Grouped the way cards are printed: 4-4-4-4 with an optional short tail, or 6-(10..13).
_CARD_GROUPED_RE = re.compile(
    _NOT_ALNUM_BEFORE
    + r"(?:[0-9]{4}(?P<s>[ \-])[0-9]{4}(?P=s)[0-9]{4}(?P=s)[0-9]{4}(?:(?P=s)[0-9]{1,3})?"
    + r"|[0-9]{6}[ \-][0-9]{10,13})"
    + _NOT_ALNUM_AFTER
)
_BANK_CONTEXT_RE = re.compile(r"卡|账号|帐号|账户|帐户|银行|储蓄|信用|借记|card|acct|account", re.I)

_MOBILE_RE = re.compile(
    _NOT_DIGIT_BEFORE
    + r"(?:(?:\(\s*)?(?:\+|00)?86(?:\s*\))?" + _SEP + r"?\s*)?"
    + r"1[3-9][0-9]" + _SEP + r"?[0-9]{4}" + _SEP + r"?[0-9]{4}"
    + _NOT_DIGIT_AFTER
)

_AREA = r"0(?:10|2[0-9]|[3-9][0-9]{2})"
_LANDLINE_RE = re.compile(
    _NOT_DIGIT_BEFORE
    + r"(?:(?:\+|00)86" + _SEP + r"?)?"
    + r"(?:\(\s*" + _AREA + r"\s*\)\s*" + r"|" + _AREA + _SEP + r"?)"
    + r"[0-9]{3,4}" + _SEP + r"?[0-9]{4}"
    + r"(?:\s*(?:-|转|分机|ext\.?|x)\s*[0-9]{1,5})?"
    + _NOT_DIGIT_AFTER,
    re.I,
)

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_RE = re.compile(
    r"[" + _PROVINCES + r"]"
    r"(?P<city>[A-HJ-NP-Za-hj-np-z])"
    r"[ \-·•・]?"
    r"(?:(?P<ne>[DFdf][A-HJ-NP-Za-hj-np-z0-9][0-9]{4}|[0-9]{5}[DFdf])"
    r"|(?P<reg>[A-HJ-NP-Za-hj-np-z0-9]{4}[A-HJ-NP-Za-hj-np-z0-9挂学警港澳领试超]))"
    + _NOT_ALNUM_AFTER
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def luhn_ok(digits: str) -> bool:
    """The Luhn check every bank card number passes and 9 in 10 arbitrary numbers fail."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def id_checksum_ok(number: str) -> bool:
    """ISO 7064 MOD 11-2: the last character of an 18-character 身份证号."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    # Returns the replacement for a match, or None to leave it alone.
    decide: Callable[[re.Match[str], str], str | None]
    group: str | None = None  # replace only this named group (keyword stays: "微信：【微信号】")


def _digits(s: str) -> str:
    return "".join(ch for ch in s if ch.isdigit())


def _id18(m: re.Match[str], text: str) -> str | None:
    raw = re.sub(_SEP, "", m.group(0))
    if not id_checksum_ok(raw) and luhn_ok(raw) and raw.isdigit():
        return BANK_CARD  # an 18-digit card whose digits happen to look like a birth date
    return ID_CARD


def _bank_context(text: str, start: int) -> bool:
    return bool(_BANK_CONTEXT_RE.search(text, max(0, start - 12), start))


def _card_run(m: re.Match[str], text: str) -> str | None:
    if luhn_ok(m.group(0)) or _bank_context(text, m.start()):
        return BANK_CARD
    # 16-19 digits are never an amount, year or article number; an order or account
    # number still points at a person, so it goes too, under a neutral name.
    return NUMBER


def _card_grouped(m: re.Match[str], text: str) -> str | None:
    digits = _digits(m.group(0))
    if luhn_ok(digits) or _bank_context(text, m.start()):
        return BANK_CARD
    return None  # "2021 2022 2023 2024" and other lists of short numbers


def _always(token: str) -> Callable[[re.Match[str], str], str | None]:
    return lambda m, text: token


def _plate(m: re.Match[str], text: str) -> str | None:
    if m.group("reg"):
        body = m.group("reg")
        letters = sum(ch.isascii() and ch.isalpha() for ch in body)
        digits = sum(ch.isdigit() for ch in body)
        if letters > 2 or digits < 3:  # real serials have at most two letters
            return None
    return PLATE


# Order is priority: an e-mail holding a phone number is one e-mail; an 18-digit
# ID is not also a card; a card's digits are not also a phone number.
_RULES: tuple[_Rule, ...] = (
    _Rule(_EMAIL_RE, _always(EMAIL)),
    _Rule(_ID18_RE, _id18),
    _Rule(_CARD_RUN_RE, _card_run),
    _Rule(_CARD_GROUPED_RE, _card_grouped),
    _Rule(_ID15_RE, _always(ID_CARD)),
    _Rule(_MOBILE_RE, _always(PHONE)),
    _Rule(_LANDLINE_RE, _always(LANDLINE)),
    _Rule(_QQ_RE, _always(QQ), "v"),
    _Rule(_WECHAT_RE, _always(WECHAT), "v"),
    _Rule(_PLATE_RE, _plate),
)


def _normalise(text: str) -> tuple[str, list[int]]:
    """NFKC copy of `text` and, per character of the copy, the index it came from.

    Normalising character by character keeps the mapping exact (one original
    character may become several, e.g. '⑴' -> '(1)'), which is all matching needs.
    """
    if text.isascii():
        return text, list(range(len(text)))
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        n = unicodedata.normalize("NFKC", ch) if ord(ch) > 127 else ch
        out.append(n)
        origin.extend([i] * len(n))
    return "".join(out), origin


def find(text: str) -> list[tuple[int, int, str]]:
    """(start, end, token) spans of personal data in `text` (original indices), in order."""
    if not text:
        return []
    norm, origin = _normalise(text)
    taken: list[tuple[int, int, str]] = []

    def free(s: int, e: int) -> bool:
        return all(e <= a or s >= b for a, b, _ in taken)

    for rule in _RULES:
        for m in rule.pattern.finditer(norm):
            s, e = m.span(rule.group) if rule.group else m.span()
            if s == e or not free(s, e):
                continue
            token = rule.decide(m, norm)
            if token is not None:
                taken.append((s, e, token))
    spans = [(origin[s], origin[e - 1] + 1, tok) for s, e, tok in taken]
    return sorted(spans)


def redact(text: str) -> str:
    """`text` with phone numbers, ID numbers, cards, e-mails, plates (and QQ/WeChat ids) replaced
    by 【…】 tokens; everything else exactly as typed."""
    spans = find(text)
    if not spans:
        return text
    parts: list[str] = []
    pos = 0
    for s, e, token in spans:
        if s < pos:  # two matches inside one expanded character: already replaced
            continue
        parts.append(text[pos:s])
        parts.append(token)
        pos = e
    parts.append(text[pos:])
    return "".join(parts)
