"""Tests for ingest.citations: real-shaped statute citations -> normalised Citation records."""

import pytest

from ingest.citations import (
    cn_to_int,
    display_key,
    full_law_name,
    parse_citations,
    short_law_name,
    unique_keys,
)
from ingest.records import Citation

MFD = "中华人民共和国民法典"
XF = "中华人民共和国刑法"
LDHT = "中华人民共和国劳动合同法"
XBF = "中华人民共和国消费者权益保护法"
JIEDAI = "最高人民法院关于审理民间借贷案件适用法律若干问题的规定"


def tuples(text: str) -> list[tuple[str, int, int | None, int | None]]:
    return [(c.law, c.article, c.paragraph, c.sub) for c in parse_citations(text)]


CASES = [
    # --- law + article, all the spellings of one provision
    ("《中华人民共和国民法典》第一千零三十二条规定了隐私权。", [(MFD, 1032, None, None)]),
    ("《民法典》第1032条", [(MFD, 1032, None, None)]),
    ("民法典1032条", [(MFD, 1032, None, None)]),
    ("民法典第1032条", [(MFD, 1032, None, None)]),
    ("依据《民法典》 第 1032 条 的规定", [(MFD, 1032, None, None)]),
    ("《民法典》第１０３２条", [(MFD, 1032, None, None)]),
    ("依据民法典（１０３２条），隐私受保护", [(MFD, 1032, None, None)]),
    ("中华人民共和国民法典第五十四条", [(MFD, 54, None, None)]),
    ("中华人民共和国刑法第二百六十四条", [(XF, 264, None, None)]),
    ("《 民法典 》第十条", [(MFD, 10, None, None)]),
    ("《民法典》第十五条", [(MFD, 15, None, None)]),
    ("《民法典》第一百零五条", [(MFD, 105, None, None)]),
    ("《民法典》第两百条", [(MFD, 200, None, None)]),
    # --- bare 第X条 resolved from the law named earlier in the same sentence
    ("根据《刑法》规定，寻衅滋事情节恶劣的，依照第293条处罚。", [(XF, 293, None, None)]),
    ("根据刑法规定，依照第二百九十三条处罚", [(XF, 293, None, None)]),
    ("根据《刑法》规定处罚。依照第293条。", []),
    ("根据《刑法》规定处罚；依照第293条", []),
    ("依照第293条处罚", []),
    ("我读了《红楼梦》，第3条意见是", []),
    # --- paragraphs, items, 之一
    ("《劳动合同法》第四十七条第一款", [(LDHT, 47, 1, None)]),
    ("《劳动合同法》第47条第1款第2项", [(LDHT, 47, 1, None)]),
    ("《刑法》第一百三十三条之一", [(XF, 133, None, 1)]),
    ("《刑法》第293条之一", [(XF, 293, None, 1)]),
    ("《刑法》第120条之二规定", [(XF, 120, None, 2)]),
    ("民法典第一千零七十九条第二款、第三款", [(MFD, 1079, 2, None), (MFD, 1079, 3, None)]),
    ("《刑法》第五条之规定", [(XF, 5, None, None)]),
    # --- lists and ranges
    ("《刑法》第二百九十三条、第二百九十四条", [(XF, 293, None, None), (XF, 294, None, None)]),
    ("《刑法》第293条和第294条", [(XF, 293, None, None), (XF, 294, None, None)]),
    ("《刑法》第293、294条", [(XF, 293, None, None), (XF, 294, None, None)]),
    ("《刑法》第293条、294条", [(XF, 293, None, None), (XF, 294, None, None)]),
    ("《民法典》第1062条至第1065条", [(MFD, 1062, None, None), (MFD, 1065, None, None)]),
    # --- non-national instruments keep their written name
    (f"《{JIEDAI}》第二十五条", [(JIEDAI, 25, None, None)]),
    ("《互联网金融逾期债务催收自律公约》第13条", [("互联网金融逾期债务催收自律公约", 13, None, None)]),
    ("《征信业管理条例》第十六条", [("征信业管理条例", 16, None, None)]),
    (
        "《中华人民共和国刑法修正案（十一）》第一条",
        [("中华人民共和国刑法修正案（十一）", 1, None, None)],
    ),
    ("刑法修正案（十一）第一条", [("刑法修正案（十一）", 1, None, None)]),
    (
        "最高人民法院关于适用《中华人民共和国民法典》婚姻家庭编的解释（一）第七条",
        [("最高人民法院关于适用《中华人民共和国民法典》婚姻家庭编的解释（一）", 7, None, None)],
    ),
    (
        "中华人民共和国道路交通安全法实施条例第九十二条",
        [("中华人民共和国道路交通安全法实施条例", 92, None, None)],
    ),
    # --- aliases
    ("消法第55条规定了惩罚性赔偿", [(XBF, 55, None, None)]),
    ("《消保法》第五十五条", [(XBF, 55, None, None)]),
    # --- negatives
    ("他考了第3名", []),
    ("第一次去法院", []),
    ("第2天就出院了", []),
    ("本条所称的近亲属", []),
    ("第十五届人大会议", []),
    ("这部手机1032元", []),
    ("民法典规定，这部手机1032元", []),
    ("民法典里有很多条规定", []),
    ("公司法人第3条", []),
    ("劳动法律法规第3条", []),
    # --- position in text, several laws
    ("《民法典》第1032条", [(MFD, 1032, None, None)]),
    ("隐私权规定在民法典第1032条", [(MFD, 1032, None, None)]),
    (
        "《民法典》规定，依第1165条担责；《刑法》规定，依第234条定罪。",
        [(MFD, 1165, None, None), (XF, 234, None, None)],
    ),
    (
        "根据《民法典》第1165条和《刑法》第234条，以及第235条",
        [(MFD, 1165, None, None), (XF, 234, None, None), (XF, 235, None, None)],
    ),
    ("民法典第1032条，民法典第1032条", [(MFD, 1032, None, None), (MFD, 1032, None, None)]),
    # --- colloquial queries
    ("民法典1032条说的什么", [(MFD, 1032, None, None)]),
    ("刑法第二百九十三条是什么罪", [(XF, 293, None, None)]),
    ("劳动合同法47条怎么算补偿", [(LDHT, 47, None, None)]),
    ("道交法第七十六条怎么理解", [("中华人民共和国道路交通安全法", 76, None, None)]),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:24] for c in CASES])
def test_parse_citations(text: str, expected: list[tuple[str, int, int | None, int | None]]) -> None:
    assert tuples(text) == expected


SPAN_CASES = [
    ("《民法典》第1032条", ["《民法典》第1032条"]),
    ("隐私权规定在民法典第1032条。", ["民法典第1032条"]),
    ("依据《民法典》 第 1032 条 的规定", ["《民法典》 第 1032 条"]),
    ("根据《刑法》规定，依照第293条处罚", ["第293条"]),
    ("《刑法》第二百九十三条、第二百九十四条", ["《刑法》第二百九十三条", "第二百九十四条"]),
    ("《刑法》第293、294条", ["《刑法》第293、294条", "《刑法》第293、294条"]),
    ("《劳动合同法》第47条第1款第2项怎么理解", ["《劳动合同法》第47条第1款第2项"]),
    ("民法典1032条说的什么", ["民法典1032条"]),
]


@pytest.mark.parametrize(("text", "covered"), SPAN_CASES, ids=[c[0][:24] for c in SPAN_CASES])
def test_spans_cover_the_citation(text: str, covered: list[str]) -> None:
    assert [text[c.span[0] : c.span[1]] for c in parse_citations(text)] == covered


@pytest.mark.parametrize(
    ("s", "n"),
    [
        ("一千零三十二", 1032),
        ("二百九十三", 293),
        ("十", 10),
        ("十五", 15),
        ("一百零五", 105),
        ("两百", 200),
        ("二十", 20),
        ("一百一十", 110),
        ("一万零一", 10001),
        ("一〇三二", 1032),
        ("零", 0),
        ("1032", 1032),
        ("１０３２", 1032),
    ],
)
def test_cn_to_int(s: str, n: int) -> None:
    assert cn_to_int(s) == n


@pytest.mark.parametrize("bad", ["", "abc", "第三", "3a"])
def test_cn_to_int_rejects_non_numerals(bad: str) -> None:
    with pytest.raises(ValueError):
        cn_to_int(bad)


@pytest.mark.parametrize(
    ("name", "full"),
    [
        ("民法典", MFD),
        ("《民法典》", MFD),
        (MFD, MFD),
        ("刑法", XF),
        ("治安管理处罚法", "中华人民共和国治安管理处罚法"),
        ("消法", XBF),
        ("消保法", XBF),
        ("婚姻法", "中华人民共和国婚姻法"),
        ("民法总则", "中华人民共和国民法总则"),
        ("劳动争议调解仲裁法", "中华人民共和国劳动争议调解仲裁法"),
        (" 劳动法 ", "中华人民共和国劳动法"),
        ("《互联网金融逾期债务催收自律公约》", "互联网金融逾期债务催收自律公约"),
        (f"《{JIEDAI}》", JIEDAI),
        ("《征信业管理条例》", "征信业管理条例"),
        ("刑法修正案（十一）", "刑法修正案（十一）"),
        ("中华人民共和国刑法修正案（十一）", "中华人民共和国刑法修正案（十一）"),
    ],
)
def test_full_law_name(name: str, full: str) -> None:
    assert full_law_name(name) == full


@pytest.mark.parametrize(
    ("full", "short"),
    [
        (MFD, "民法典"),
        (XF, "刑法"),
        ("中华人民共和国道路交通安全法实施条例", "道路交通安全法实施条例"),
        (JIEDAI, JIEDAI),
        ("互联网金融逾期债务催收自律公约", "互联网金融逾期债务催收自律公约"),
    ],
)
def test_short_law_name(full: str, short: str) -> None:
    assert short_law_name(full) == short


@pytest.mark.parametrize(
    ("c", "shown"),
    [
        (Citation(MFD, 1032), "民法典第1032条"),
        (Citation(XF, 293, sub=1), "刑法第293条之一"),
        (Citation(LDHT, 47, paragraph=1), "劳动合同法第47条第1款"),
        (Citation("征信业管理条例", 16), "征信业管理条例第16条"),
    ],
)
def test_display_key(c: Citation, shown: str) -> None:
    assert display_key(c) == shown


def test_keys_and_unique_keys_preserve_order() -> None:
    cites = parse_citations("《民法典》第1032条、《刑法》第293条之一，民法典第一千零三十二条")
    assert [c.key for c in cites] == [f"{MFD} 第1032条", f"{XF} 第293条之一", f"{MFD} 第1032条"]
    assert unique_keys(cites) == [f"{MFD} 第1032条", f"{XF} 第293条之一"]


def test_known_law_table_covers_the_required_names() -> None:
    names = [
        "民法典",
        "刑法",
        "劳动合同法",
        "劳动法",
        "民事诉讼法",
        "刑事诉讼法",
        "道路交通安全法",
        "消费者权益保护法",
        "食品安全法",
        "公司法",
        "合伙企业法",
        "继承法",
        "合同法",
        "物权法",
        "侵权责任法",
        "社会保险法",
        "个人信息保护法",
        "电子商务法",
        "产品质量法",
        "行政处罚法",
        "反家庭暴力法",
        "未成年人保护法",
        "妇女权益保障法",
        "商业银行法",
        "保险法",
        "证券法",
        "担保法",
        "行政诉讼法",
        "国家赔偿法",
        "律师法",
        "法律援助法",
        "网络安全法",
        "人民调解法",
        "城市房地产管理法",
        "土地管理法",
        "农村土地承包法",
        "广告法",
        "价格法",
        "反不正当竞争法",
        "著作权法",
        "商标法",
        "专利法",
        "票据法",
        "信托法",
        "个人所得税法",
        "税收征收管理法",
        "老年人权益保障法",
        "残疾人保障法",
        "职业病防治法",
        "安全生产法",
        "环境保护法",
        "建筑法",
        "招标投标法",
        "拍卖法",
        "仲裁法",
        "公证法",
        "监察法",
    ]
    for n in names:
        assert full_law_name(n) == "中华人民共和国" + n
        assert tuples(f"{n}第3条") == [("中华人民共和国" + n, 3, None, None)], n
