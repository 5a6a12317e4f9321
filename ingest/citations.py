"""Find and normalise statute citations (《民法典》第1032条 and friends) in Chinese text.

Articles and queries cite the same provision in many spellings: with or without
book-title marks, short or full law names, Chinese or Arabic (even full-width)
numerals, and often as a bare "第293条" that silently refers to the last law named
in the sentence. Indexing and query matching only work if all of these collapse
to one `Citation` with the full law name and an int article number.

Design: one tokenising regex (law names, article references, paragraph references,
sentence ends) plus a tiny state machine that remembers the law in force for the
current sentence. A bare 第X条 counts only when a law was named earlier in the
same sentence, so prose like "第3条建议" is never attributed to nothing.

Known limits (by design, to stay compact and precise):
- Ranges "第1062条至第1065条" yield only the two endpoints.
- Shared-条 lists "第293、294条" give every member the span of the whole list.
- 项 (items) are consumed but not recorded.
- A bare 第X条 never reaches back across a sentence end (。！？；!?; or newline).
"""

import re
from collections.abc import Iterable

from ingest.records import Citation

_PRC = "中华人民共和国"

# National laws by their common short name; the full name is _PRC + name.
_NATIONAL_LAWS: tuple[str, ...] = tuple(
    """
    宪法 立法法 民法典 民法总则 民法通则 合同法 物权法 担保法 侵权责任法
    婚姻法 继承法 收养法 民事诉讼法 刑事诉讼法 行政诉讼法 刑法 治安管理处罚法
    行政处罚法 行政许可法 行政强制法 行政复议法 国家赔偿法 劳动法 劳动合同法
    劳动争议调解仲裁法 社会保险法 就业促进法 工会法 职业病防治法 安全生产法
    道路交通安全法 消费者权益保护法 食品安全法 药品管理法 产品质量法 广告法
    价格法 反不正当竞争法 反垄断法 电子商务法 电子签名法 个人信息保护法
    数据安全法 网络安全法 反电信网络诈骗法 公司法 合伙企业法 个人独资企业法
    企业破产法 商业银行法 保险法 证券法 票据法 信托法 反洗钱法 个人所得税法
    企业所得税法 税收征收管理法 著作权法 商标法 专利法 城市房地产管理法
    土地管理法 农村土地承包法 环境保护法 建筑法 招标投标法 拍卖法 仲裁法
    公证法 律师法 法律援助法 人民调解法 监察法 反家庭暴力法 未成年人保护法
    预防未成年人犯罪法 妇女权益保障法 老年人权益保障法 残疾人保障法
    家庭教育促进法 义务教育法 教育法 禁毒法 精神卫生法 传染病防治法
    基本医疗卫生与健康促进法 出境入境管理法 反有组织犯罪法
    """.split()
)

# Colloquial abbreviations -> the short name used in _NATIONAL_LAWS.
_ALIASES: dict[str, str] = {
    "消法": "消费者权益保护法",
    "消保法": "消费者权益保护法",
    "个保法": "个人信息保护法",
    "民诉法": "民事诉讼法",
    "刑诉法": "刑事诉讼法",
    "行诉法": "行政诉讼法",
    "道交法": "道路交通安全法",
    "治安处罚法": "治安管理处罚法",
}

_N = r"(?:[0-9０-９]+|[零〇一二两三四五六七八九十百千万]+)"
_SEP = r"(?:、|以及|及|和|与|或者|或|至|到|~|～|—|-)"
_NAMES = "|".join(re.escape(n) for n in sorted({*_NATIONAL_LAWS, *_ALIASES}, key=len, reverse=True))
# 刑法修正案（十一） is its own instrument; match it whole so it is not read as 刑法.
_AMENDMENT = r"刑法修正案(?:[（(][一二三四五六七八九十]+[）)])?"
_NATIONAL = re.compile(rf"({_PRC})?(?:({_AMENDMENT})|(?:{_NAMES})(?:实施条例|实施细则)?)")
# What a law/regulation/interpretation title ends with; used to tell 《刑法》 from 《红楼梦》.
_LAWLIKE_END = re.compile(
    r"(?:法|法典|条例|规定|解释|办法|决定|规则|细则|通则|总则|意见|批复|公约|修正案|章程|准则|纪要)"
    r"(?:[（(][^（）()]*[）)])?$"
)

_TOKEN = re.compile(
    "|".join(
        (
            r"(?P<end>[。！？；!?;\n])",
            r"(?P<bracket>《[^《》\n]{1,80}?》)",
            # Unmarked known names; the lookahead keeps 公司法人, 劳动法律法规, 刑法学 out
            # while still allowing "刑法规定".
            rf"(?P<known>(?:{_PRC})?(?:{_AMENDMENT}|(?:{_NAMES})(?:实施条例|实施细则)?))"
            r"(?![律院官人学务庭定制理系]|规(?!定))",
            # Unmarked long titles (STARD-style ids); only when an article follows directly.
            rf"(?P<prefixed>(?:{_PRC}|最高人民法院|最高人民检察院|国务院)"
            r"[\u4e00-\u9fff《》〈〉（）()、]{0,60}?"
            r"(?:法|法典|条例|规定|解释|办法|决定|规则|细则|通则|总则|意见|批复|公约|修正案)"
            rf"(?:[（(][一二三四五六七八九十]+[）)])?)(?=\s*第\s*{_N}\s*条)",
            rf"(?P<artlist>第\s*{_N}(?:\s*{_SEP}\s*第?\s*{_N})+\s*条)",
            rf"(?P<art>(?:第\s*)?{_N}\s*条(?:\s*之\s*[一二三四五六七八九十])?"
            rf"(?:\s*第\s*{_N}\s*款)?(?:\s*第\s*[（(]?{_N}[）)]?\s*项)?)",
            rf"(?P<para>第\s*{_N}\s*款(?:\s*第\s*[（(]?{_N}[）)]?\s*项)?)",
        )
    )
)
_ART_PARTS = re.compile(
    rf"(?:第\s*)?(?P<num>{_N})\s*条(?:\s*之\s*(?P<sub>[一二三四五六七八九十]))?"
    rf"(?:\s*第\s*(?P<para>{_N})\s*款)?"
)
_NUM = re.compile(_N)
_ATTACHED_GAP = re.compile(r"[\s（(：:]*")  # between a law name and its article
_LIST_GAP = re.compile(rf"\s*{_SEP}\s*")  # between two members of a list

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_SMALL = "一二三四五六七八九十"


def cn_to_int(s: str) -> int:
    """Convert a Chinese (一千零三十二, 两百, 十五), Arabic or full-width (１０３２) numeral.

    Statute numbers come in all three scripts; normalising to int is what lets
    "第一千零三十二条" and "第1032条" share one index key. Digit-by-digit forms
    without units (一〇三二) are read positionally. Raises ValueError otherwise.
    """
    s = s.strip()
    if s.isdecimal():  # int() understands full-width and other Unicode digits
        return int(s)
    if not s or any(ch not in _CN_DIGITS and ch not in _CN_UNITS and ch != "万" for ch in s):
        raise ValueError(f"not a numeral: {s!r}")
    if len(s) > 1 and all(ch in _CN_DIGITS for ch in s):
        return int("".join(str(_CN_DIGITS[ch]) for ch in s))
    total = section = digit = 0
    for ch in s:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch == "万":
            total += (section + digit) * 10000
            section = digit = 0
        else:  # 十/百/千; a leading 十 means 一十
            section += (digit or 1) * _CN_UNITS[ch]
            digit = 0
    return total + section + digit


def full_law_name(name: str) -> str:
    """Map a law name as written to the canonical full name used in keys.

    National laws get the "中华人民共和国" prefix (民法典 -> 中华人民共和国民法典,
    消法 -> 中华人民共和国消费者权益保护法) so short and full spellings dedup.
    Anything else (judicial interpretations, regulations, self-regulatory
    conventions, 刑法修正案（十一）) is kept exactly as written, minus 《》 and
    whitespace: guessing an official title would be worse than keeping the author's.
    """
    n = re.sub(r"\s+", "", name).strip("《》〈〉")
    n = _ALIASES.get(n, n)
    m = _NATIONAL.fullmatch(n)
    if m and not m.group(1) and not m.group(2):
        return _PRC + n
    return n


def short_law_name(full: str) -> str:
    """Reverse of `full_law_name` for display: drop "中华人民共和国" from known national laws.

    Tags on the search page must be short; names we do not know are shown as-is.
    """
    if full.startswith(_PRC):
        m = _NATIONAL.fullmatch(full[len(_PRC) :])
        if m and not m.group(1):
            return full[len(_PRC) :]
    return full


def display_key(c: Citation) -> str:
    """Short tag such as "民法典第1032条", "刑法第293条之一", "劳动合同法第47条第1款"."""
    sub = ""
    if c.sub:
        sub = "之" + (_CN_SMALL[c.sub - 1] if 1 <= c.sub <= 10 else str(c.sub))
    para = f"第{c.paragraph}款" if c.paragraph else ""
    return f"{short_law_name(c.law)}第{c.article}条{sub}{para}"


def unique_keys(citations: Iterable[Citation]) -> list[str]:
    """`Citation.key` values without duplicates, first occurrence order kept."""
    return list(dict.fromkeys(c.key for c in citations))


def _is_lawlike(name: str) -> bool:
    return bool(_LAWLIKE_END.search(name)) or bool(_NATIONAL.fullmatch(name))


def parse_citations(text: str) -> list[Citation]:
    """All statute citations in `text`, in order, duplicates kept, spans into `text`.

    A citation directly attached to a law name ("《民法典》第1032条", "民法典1032条")
    gets a span that includes the law name; one resolved from sentence context or
    from a list ("、第294条") spans only the article reference.
    """
    out: list[Citation] = []
    strong: str | None = None  # last law-like name in this sentence
    law: tuple[str, int, int] | None = None  # (name, start, end) of the last name of any kind
    prev: Citation | None = None  # last citation, for "、第294条" / "、第三款" continuations
    prev_end = 0

    for m in _TOKEN.finditer(text):
        kind, tok, start, end = m.lastgroup, m.group(), m.start(), m.end()
        if kind == "end":
            strong, law, prev = None, None, None
            continue
        if kind in ("bracket", "known", "prefixed"):
            name = full_law_name(tok)
            if kind != "bracket" or _is_lawlike(name):
                strong = name
            law, prev = (name, start, end), None
            continue

        after_law = law is not None and _ATTACHED_GAP.fullmatch(text, law[2], start) is not None
        in_list = prev is not None and _LIST_GAP.fullmatch(text, prev_end, start) is not None
        if kind == "para":
            if in_list and prev is not None:
                para = cn_to_int(_NUM.findall(tok)[0])
                prev = Citation(prev.law, prev.article, para, prev.sub, (start, end))
                out.append(prev)
                prev_end = end
            continue

        if after_law and law is not None:
            name, start = law[0], law[1]
        elif in_list and prev is not None:
            name = prev.law
        elif tok.startswith("第") and strong:
            name = strong
        else:
            continue  # bare number + 条 with no law to attach it to
        law = None  # a law name attaches to one article token only
        if kind == "artlist":
            nums = [cn_to_int(n) for n in _NUM.findall(tok)]
            new = [Citation(name, n, span=(start, end)) for n in nums]
        else:
            p = _ART_PARTS.match(tok)
            assert p is not None  # same shape as the "art" token
            new = [
                Citation(
                    name,
                    cn_to_int(p.group("num")),
                    cn_to_int(p.group("para")) if p.group("para") else None,
                    cn_to_int(p.group("sub")) if p.group("sub") else None,
                    (start, end),
                )
            ]
        out.extend(new)
        prev, prev_end = new[-1], end
    return out
