"""Personal data out of questions before anything is stored.

    redact("我手机 138 1234 5678，身份证 11010519491231002X")
    -> "我手机 【手机号】，身份证 【身份证号】"

People paste their phone number, ID number, bank card or licence plate into a
legal question ("我的卡6222…被冻结了"). The question log keeps questions for
90 days to show the firm what it has no article for; it must not keep those
numbers. Everything here is a regular expression over a NFKC-normalised copy
of the text (so full-width digits and letters match), with the matches mapped
back onto the original text: only the personal data changes, every other
character is kept as typed. The digit patterns run a second time over a copy
with Chinese numerals read as digits (一三九一二三四五六七八 is a phone number).

Ordinary numbers in legal questions are the hard part: amounts (借了20000元),
dates (2024-01-15), statute numbers (第1032条), durations, years. The patterns
are anchored so that a longer digit run never yields a shorter match inside
it, and the ambiguous cases use a check that ordinary numbers fail: the date
structure of an ID number, the Luhn digit of a bank card, the MOD 31 digit of
a 统一社会信用代码. Names, doors and birth dates are taken only where the
question says what they are (我叫…, 张先生, 3栋2单元501室, 1990年5月3日出生).
The patterns themselves live in index.firm.redact_patterns; what is and is not
redacted, and the measured leaks and false masks, are in docs/privacy.md.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from index.firm import redact_patterns as p
from index.firm.redact_patterns import (
    ADDRESS,
    BANK_CARD,
    BIRTH_DATE,
    CREDIT_CODE,
    EMAIL,
    ID_CARD,
    LANDLINE,
    NAME,
    NUMBER,
    PASSPORT,
    PHONE,
    PLATE,
    QQ,
    WECHAT,
    credit_code_ok,
    id_checksum_ok,
    luhn_ok,
)

__all__ = [
    "ADDRESS", "BANK_CARD", "BIRTH_DATE", "CREDIT_CODE", "EMAIL", "ID_CARD", "LANDLINE", "NAME", "NUMBER",
    "PASSPORT", "PHONE", "PLATE", "QQ", "WECHAT", "credit_code_ok", "find", "id_checksum_ok", "luhn_ok", "redact",
]

Decide = Callable[[re.Match[str], str], str | None]


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    # Returns the replacement for a match, or None to leave it alone.
    decide: Decide
    # Replace only the first of these named groups that matched (keyword stays: "微信：【微信号】").
    groups: tuple[str, ...] = ()
    # Also run over the copy with Chinese numerals read as digits (not for names: 王五 is no number).
    numerals: bool = True
    # A cheap search that must succeed before the (slower, many-branched) pattern is worth running.
    hint: re.Pattern[str] | None = None


def _always(token: str) -> Decide:
    return lambda m, text: token


# Order is priority: an e-mail holding a phone number is one e-mail; an 18-digit
# ID is not also a card; a card's digits are not also a phone number.
_RULES: tuple[_Rule, ...] = (
    _Rule(p.EMAIL_RE, _always(EMAIL)),
    _Rule(p.EMAIL_LOOSE_RE, _always(EMAIL)),
    _Rule(p.ID18_RE, p.id18),
    _Rule(p.ID_GROUPED_RE, p.id_grouped),
    _Rule(p.CREDIT_CODE_RE, p.credit_code),
    _Rule(p.CARD_RUN_RE, p.card_run),
    _Rule(p.CARD_GROUPED_RE, p.card_grouped),
    _Rule(p.CARD_LOOSE_RE, p.card_loose),
    _Rule(p.ID15_RE, _always(ID_CARD)),
    _Rule(p.MOBILE_RE, _always(PHONE)),
    _Rule(p.MOBILE_LOOSE_RE, _always(PHONE)),
    _Rule(p.LANDLINE_RE, _always(LANDLINE)),
    _Rule(p.QQ_RE, _always(QQ), ("v",)),
    _Rule(p.WECHAT_RE, p.wechat, ("v",)),
    _Rule(p.PASSPORT_RE, p.passport, ("v",)),
    _Rule(p.PASSPORT_BARE_RE, _always(PASSPORT)),
    _Rule(p.PLATE_RE, p.plate),
    _Rule(p.BIRTH_RE, _always(BIRTH_DATE), ("v", "w"), hint=p.BIRTH_HINT_RE),
    _Rule(p.ADDRESS_RE, _always(ADDRESS), ("v", "d"), hint=p.ADDRESS_HINT_RE),
    _Rule(p.NAME_INTRO_RE, p.name, ("v",), numerals=False),
    _Rule(p.NAME_TITLE_RE, p.name, ("v", "s", "t"), numerals=False, hint=p.TITLE_HINT_RE),
)


def _normalise(text: str) -> tuple[str, list[int] | None]:
    """NFKC copy of `text` and, per character of the copy, the index it came from (None: the same).

    Normalising character by character keeps the mapping exact (one original
    character may become several, e.g. '⑴' -> '(1)'), which is all matching needs.
    Full-width letters, digits and punctuation become one character each, so the
    usual question is one str.translate and keeps its positions.
    """
    if text.isascii():
        return text, None
    table: dict[int, str] = {}
    for ch in set(text):
        if ord(ch) > 127 and (n := unicodedata.normalize("NFKC", ch)) != ch:
            if len(n) != 1:
                break
            table[ord(ch)] = n
    else:
        return text.translate(table), None
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        n = unicodedata.normalize("NFKC", ch) if ord(ch) > 127 else ch
        out.append(n)
        origin.extend([i] * len(n))
    return "".join(out), origin


class _Taken:
    """Spans already replaced, with a byte per character saying whether it is taken: each overlap
    test is one scan of the span, so a line with thousands of matches stays linear."""

    def __init__(self, size: int) -> None:
        self.mask = bytearray(size)
        self.spans: list[tuple[int, int, str]] = []

    def free(self, s: int, e: int) -> bool:
        return self.mask.find(1, s, e) < 0

    def add(self, s: int, e: int, token: str) -> None:
        self.mask[s:e] = b"\x01" * (e - s)
        self.spans.append((s, e, token))


def _span(m: re.Match[str], groups: tuple[str, ...]) -> tuple[int, int]:
    for g in groups:
        if m.group(g) is not None:
            return m.span(g)
    return m.span()


def _apply(rule: _Rule, norm: str, taken: _Taken, plain: str | None) -> None:
    """Take the rule's matches in `norm`; with `plain` (the numeral pass) only matches that
    read a Chinese numeral, since the plain pass has already decided every other one."""
    if rule.hint is not None and rule.hint.search(norm) is None:
        return
    for m in rule.pattern.finditer(norm):
        s, e = _span(m, rule.groups)
        if s == e or not taken.free(s, e) or (plain is not None and plain[s:e] == norm[s:e]):
            continue
        token = rule.decide(m, norm)
        if token is not None:
            taken.add(s, e, token)


def find(text: str) -> list[tuple[int, int, str]]:
    """(start, end, token) spans of personal data in `text` (original indices), in order."""
    if not text:
        return []
    norm, origin = _normalise(text)
    taken = _Taken(len(norm))
    for rule in _RULES:
        _apply(rule, norm, taken, None)
    numerals = None if norm.isascii() else p.read_numerals(norm)
    if numerals is not None:
        for rule in _RULES:
            if rule.numerals:
                _apply(rule, numerals, taken, norm)
    if origin is None:
        return sorted(taken.spans)
    return [(origin[s], origin[e - 1] + 1, tok) for s, e, tok in sorted(taken.spans)]


def redact(text: str) -> str:
    """`text` with phone numbers, ID numbers, cards, e-mails, plates, QQ/WeChat ids, passport and
    credit codes, and names, doors and birth dates where the question marks them, replaced by
    【…】 tokens; everything else exactly as typed."""
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
