"""Personal data is replaced before a question is stored; ordinary numbers stay (no model needed)."""
from __future__ import annotations

import pytest

from index.firm.redact import (
    BANK_CARD,
    EMAIL,
    ID_CARD,
    LANDLINE,
    NUMBER,
    PHONE,
    PLATE,
    QQ,
    WECHAT,
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
