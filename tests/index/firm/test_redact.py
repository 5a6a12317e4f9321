"""Personal data is replaced before a question is stored; ordinary numbers stay (no model needed)."""
from __future__ import annotations

import collections
import difflib
import json
import re
import time
from pathlib import Path

import pytest

from index.firm.logwriter import clip_redact
from index.firm.redact import (
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
    find,
    id_checksum_ok,
    luhn_ok,
    redact,
)

POSITIVE = [
    # mobile numbers
    ("我的手机号是13812345678，催收天天打", f"我的手机号是{PHONE}，催收天天打"),
    ("联系我 138 1234 5678 谢谢", f"联系我 {PHONE} 谢谢"),
    ("电话138-1234-5678可以吗", f"电话{PHONE}可以吗"),
    ("+86 139 0000 1111是我老公的号", f"{PHONE}是我老公的号"),
    ("打0086-15912345678没人接", f"打{PHONE}没人接"),
    ("(+86)18612345678", PHONE),
    ("号码8613712345678被拉黑了", f"号码{PHONE}被拉黑了"),
    ("手机：１３９１２３４５６７８（全角）", f"手机：{PHONE}（全角）"),
    ("微信同号17712345678，加我", f"微信同号{PHONE}，加我"),
    # landlines
    ("公司电话010-12345678，一直没人接", f"公司电话{LANDLINE}，一直没人接"),
    ("深圳的0755 1234 5678", f"深圳的{LANDLINE}"),
    ("打(021)12345678投诉", f"打{LANDLINE}投诉"),
    ("（０２１）６２３４５６７８", LANDLINE),
    ("前台0571-88889999转8001", f"前台{LANDLINE}"),
    ("分机 0512-6789012-123 找人事", f"分机 {LANDLINE} 找人事"),
    # ID numbers
    ("身份证号11010519491231002X被人冒用了", f"身份证号{ID_CARD}被人冒用了"),
    ("我的身份证440306198503151234借给朋友办卡", f"我的身份证{ID_CARD}借给朋友办卡"),
    ("身份证：11010519491231002x", f"身份证：{ID_CARD}"),
    ("310115 19900707 4568 这是我的证件号", f"{ID_CARD} 这是我的证件号"),
    ("老身份证110105491231002还能用吗", f"老身份证{ID_CARD}还能用吗"),
    ("证件号320583199202290013（校验位错了也要去掉）", f"证件号{ID_CARD}（校验位错了也要去掉）"),
    # bank cards
    ("卡号6228480402564890018被冻结了", f"卡号{BANK_CARD}被冻结了"),
    ("转到 6225 8801 2345 6783 这张卡", f"转到 {BANK_CARD} 这张卡"),
    ("4367-4200-1234-5673", BANK_CARD),
    ("对方账户6230580000123456787收了钱", f"对方账户{BANK_CARD}收了钱"),
    ("银行卡 6228 4804 0256 4890 018 被司法冻结", f"银行卡 {BANK_CARD} 被司法冻结"),
    ("卡号 6222 0212 3456 7890 被盗刷（不过Luhn但说了卡号）", f"卡号 {BANK_CARD} 被盗刷（不过Luhn但说了卡号）"),
    ("订单1234567890123456789查不到", f"订单{NUMBER}查不到"),
    # e-mail
    ("发到zhang.san+law@example.com.cn就行", f"发到{EMAIL}就行"),
    ("邮箱 13812345678@qq.com", f"邮箱 {EMAIL}"),
    ("邮箱：ｌｉｓｉ＠１６３．ｃｏｍ", f"邮箱：{EMAIL}"),
    # licence plates
    ("车牌京A12345的车撞了我", f"车牌{PLATE}的车撞了我"),
    ("粤B·D12345是新能源车", f"{PLATE}是新能源车"),
    ("沪A-1234学的教练车剐蹭", f"{PLATE}的教练车剐蹭"),
    ("对方是苏E 12345F，肇事逃逸", f"对方是{PLATE}，肇事逃逸"),
    ("川ａ８８Ｘ８８开走了", f"{PLATE}开走了"),
    ("浙B1234挂 半挂车被扣", f"{PLATE} 半挂车被扣"),
    # contact ids with a keyword
    ("加我QQ 123456789 详聊", f"加我QQ {QQ} 详聊"),
    ("微信号：zhangsan_1990", f"微信号：{WECHAT}"),
    # several in one question
    (
        "我叫张三，电话13812345678，身份证11010519491231002X，车牌京A12345，邮箱a@b.cn",
        f"我叫张三，电话{PHONE}，身份证{ID_CARD}，车牌{PLATE}，邮箱{EMAIL}",
    ),
]

NEGATIVE = [
    "借了20000元一直不还怎么办",
    "2024-01-15签的合同，2024-02-15到期",
    "民法典第1032条规定的隐私权",
    "《劳动合同法》第47条经济补偿",
    "被拘留12天算不算刑事处罚",
    "对方欠我50000元，有欠条",
    "月薪8000元，工作了3年零6个月",
    "赔偿金额为123456.78元合理吗",
    "2023年10月1日发生的交通事故",
    "2021 2022 2023 2024 这四年的工资都没发",
    "房号1502，物业费每平米2.5元",
    "上班时间09:00-18:00，加班到22:00",
    "判决书（2023）京0105民初12345号",
    "离婚冷静期30天，第1077条",
    "京东上买的手机坏了",
    "新A轮融资协议里的对赌条款",
    "欠款1,234,567元利息怎么算",
    "第一千一百六十五条 过错责任",
    "微信聊天记录能当证据吗",
    "在京A区上班",
    "手机号138开头的是移动吗，身份证号码是18位吗",
    "案号(2024)粤03民终1234号的判决",
    "20240115那天签的字，2024-01-15 10:30到的",
    "违约金按每日万分之五，即0.0005计算",
    "电话费100元，话费单号202401",
]


@pytest.mark.parametrize("text, expected", POSITIVE)
def test_personal_data_is_replaced(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", NEGATIVE)
def test_ordinary_numbers_are_left_alone(text):
    assert redact(text) == text
    assert find(text) == []


def test_counts_match_the_brief():
    assert len(POSITIVE) >= 25 and len(NEGATIVE) >= 10


def test_rest_of_text_is_kept_exactly_including_full_width():
    text = "我（张三）在２０２４年借了１０，０００元，手机１３８１２３４５６７８。"
    assert redact(text) == "我（张三）在２０２４年借了１０，０００元，手机【手机号】。"


def test_idempotent_and_empty():
    once = redact(POSITIVE[-1][0])
    assert redact(once) == once
    assert redact("") == ""


def test_no_digits_of_a_phone_survive():
    for text, _ in POSITIVE:
        out = redact(text)
        for token in ("13812345678", "1234 5678", "12345678", "0402564890018"):
            assert token not in out, (text, out)


def test_checks():
    assert luhn_ok("6228480402564890018") and not luhn_ok("6228480402564890019")
    assert id_checksum_ok("11010519491231002X") and not id_checksum_ok("110105194912310021")


# ---- issue 30 item 7: the spellings that leaked, and what else is now recognised ----------------
SPELLINGS = [
    ("打139.1234.5678找我", f"打{PHONE}找我"),
    ("1391 2345 678是我电话", f"{PHONE}是我电话"),
    ("139/1234/5678", PHONE),
    ("电话(138)1234-5678", f"电话{PHONE}"),
    ("1 3 9 1 2 3 4 5 6 7 8", PHONE),
    ("我手机一三九一二三四五六七八一直关机", f"我手机{PHONE}一直关机"),
    ("幺三九 一二三四 五六七八", PHONE),
    ("手机139一二三四5678", f"手机{PHONE}"),
    ("座机零二一六二三四五六七八", f"座机{LANDLINE}"),
    ("身份证440306 1985 0315 1234", f"身份证{ID_CARD}"),
    ("身份证 3201 0619 9207 1845 21 丢了", f"身份证 {ID_CARD} 丢了"),
    ("身份证号四四〇三〇六一九八五〇三一五一二三四", f"身份证号{ID_CARD}"),
    ("卡号6217.0012.3456.7890.122", f"卡号{BANK_CARD}"),
    ("车牌京 A 12345撞了我", f"车牌{PLATE}撞了我"),
    ("加V: lawyer_zhang88 详谈", f"加V: {WECHAT} 详谈"),
    ("加微 lawyer_zhang88", f"加微 {WECHAT}"),
    ("vx：zhang_san99", f"vx：{WECHAT}"),
    ("wx号 abc123456", f"wx号 {WECHAT}"),
    ("资料发 wangfang at 126 dot com", f"资料发 {EMAIL}"),
    ("邮箱li_na#qq.com", f"邮箱{EMAIL}"),
    ("我是王女士，房东张先生不退押金", f"我是{NAME}女士，房东{NAME}先生不退押金"),
    ("我叫张伟今年35岁", f"我叫{NAME}今年35岁"),
    ("家住幸福小区3栋2单元501室，楼上漏水", f"家住幸福小区{ADDRESS}，楼上漏水"),
    ("北京市朝阳区建国路88号院2号楼1201", f"北京市朝阳区建国路{ADDRESS}"),
    ("我1990年5月3日出生，能退休吗", f"我{BIRTH_DATE}出生，能退休吗"),
    ("生于二〇〇八年十二月二十三日", f"生于{BIRTH_DATE}"),
    ("护照号码E12345678丢了", f"护照号码{PASSPORT}丢了"),
    ("港澳通行证C12345678被扣", f"港澳通行证{PASSPORT}被扣"),
    ("统一社会信用代码91440300MA5G12345L", f"统一社会信用代码{CREDIT_CODE}"),
]

ORDINARY = [
    "我叫他还钱他不还",
    "张三打伤了李四，张三要负什么责任",  # the stock names of legal hypotheticals
    "对方女士不同意离婚",
    "可以向法官申请回避吗，交了10万律师费",
    "我知道15号开庭，每个月15号发工资",
    "2023年5月1日生效的合同，1985年出生的人",
    "二〇二三年五月一日发生的事故，第一千零三十二条",
    "银行流水2019 2020 2021 2022年都要打印吗",
    "银行卡里2019.2020.2021.2022四年的利息",
    "借了5000三个月没还",
    "1号楼12号楼之间的绿地，第3栋楼延期交房，2室1厅",
    "微信account被封了，加微信好友后被骗，护照号码一般几位",
    "（2023）川01民终12345号，打12315和12345都没用",
    "护照20250501到期了还能用吗",
]


@pytest.mark.parametrize("text, expected", SPELLINGS)
def test_spellings_that_leaked_are_replaced(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", ORDINARY)
def test_words_and_numbers_that_look_personal_but_are_not(text):
    assert redact(text) == text


def test_credit_code_check():
    assert credit_code_ok("91440300MA5G12345L") and not credit_code_ok("91440300MA5G12345K")


# ---- the measurement set: tests/fixtures/redaction/questions.jsonl -----------------------------
# Each line: {"text", "pii": substrings that must not survive, "kind": one kind per pii entry (for a
# question without personal data: the kinds of numbers in it), "keep": optional substrings that must}.
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "redaction" / "questions.jsonl"
PROMISED = ("phone", "landline", "id_card", "bank_card", "email", "plate", "wechat", "qq")
# Redacted where the question marks them; what still leaks is measured, documented in docs/privacy.md
# and may not grow: bare names without 我叫/先生/女士 ("张建华欠我工资"), an office code "T1-1203".
KNOWN_LEAKS = {"name": 7, "address": 1}
TOKEN_RE = re.compile(r"【[^】]{1,6}】")


def _rows() -> list[dict]:
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_measurement_set_is_as_described():
    rows = _rows()
    personal = [r for r in rows if r["pii"]]
    plain = [r for r in rows if not r["pii"]]
    assert len(rows) >= 200 and len(personal) >= 100 and len(plain) >= 100
    assert len({r["text"] for r in rows}) == len(rows)
    for r in personal:
        assert len(r["kind"]) == len(r["pii"]) and all(s in r["text"] for s in r["pii"]), r
    kinds = collections.Counter(k for r in personal for k in r["kind"])
    assert all(kinds[k] >= 3 for k in PROMISED), kinds
    numbers = collections.Counter(k for r in plain for k in set(r["kind"]))
    assert all(numbers[k] >= 5 for k in ("statute", "amount", "date", "case_number", "hotline")), numbers


def _overmasked(text: str, pii: list[str], out: str) -> int:
    """Characters outside the labelled personal data that did not survive."""
    rest = text
    for s in sorted(pii, key=len, reverse=True):
        rest = rest.replace(s, "")
    kept = TOKEN_RE.sub("", out)
    blocks = difflib.SequenceMatcher(None, rest, kept, autojunk=False).get_matching_blocks()
    return len(rest) - sum(b.size for b in blocks)


def test_measurement_no_promised_form_leaks_and_legal_numbers_stay():
    total: collections.Counter[str] = collections.Counter()
    leaks: collections.Counter[str] = collections.Counter()
    false_masks: list[str] = []
    lost: list[str] = []
    overmasked = 0
    for r in _rows():
        out = redact(r["text"])
        lost += [f"{s!r} in {out}" for s in r.get("keep", []) if s not in out]
        if not r["pii"]:
            if out != r["text"]:
                false_masks.append(f"{r['text']} -> {out}")
            continue
        for s, kind in zip(r["pii"], r["kind"], strict=True):
            total[kind] += 1
            leaks[kind] += s in out
        overmasked += _overmasked(r["text"], r["pii"], out)
    report = (f"leaks by kind {dict(+leaks)} of {dict(total)}; false masks {len(false_masks)} {false_masks[:5]}; "
              f"kept numbers lost {len(lost)} {lost[:5]}; characters over-masked {overmasked}")
    assert all(leaks[k] == 0 for k in PROMISED), report
    assert all(leaks[k] <= KNOWN_LEAKS.get(k, 0) for k in total), report
    assert false_masks == [] and lost == [] and overmasked == 0, report


# ---- cost: it runs on the log's background thread for every question ----------------------------
@pytest.mark.parametrize("unit", [
    "微信 abcdefghij", "139 ", "1.", "一三九一二三四五六七八，", "13812345678，", "我叫王小明先生",
    "1号楼2单元", "1990年5月3日出生", "a#", "a@b.", "京A1", "1 - ",
])
def test_hostile_lines_cost_linear_time(unit):
    text = unit * (200_000 // len(unit))
    start = time.perf_counter()
    redact(text)
    assert time.perf_counter() - start < 5.0  # ~0.5 s here; quadratic would be minutes


@pytest.mark.parametrize("keyword", ["微信", "QQ", "护照", "出生", "联系人", "我叫", "加v", "86", "(010"])
def test_runs_of_spaces_after_a_keyword_do_not_backtrack(keyword):
    # "微信" + 300 spaces took 7 s with adjacent \s* quantifiers (and hours at the log's 2000 characters).
    start = time.perf_counter()
    redact(keyword + " " * 2000 + "中")
    assert time.perf_counter() - start < 0.5


def test_a_200_mb_line_is_clipped_before_it_is_redacted():
    line = "1" * 200_000_000
    start = time.perf_counter()
    stored = clip_redact(line)
    assert time.perf_counter() - start < 1.0 and len(stored) <= 2000
