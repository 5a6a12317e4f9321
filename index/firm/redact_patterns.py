"""The patterns and checks behind index.firm.redact: what personal data looks like when typed.

Every pattern is linear: bounded repeats of disjoint character classes, fixed-width look-arounds,
no adjacent unbounded repeats, so a hostile line costs a few passes and no more. A decide function
gets the match and the normalised text and returns the token, or None for "an ordinary number
after all" (a list of years that looks like a card, a date that is no birth date ...).
"""
from __future__ import annotations

import re

PHONE = "【手机号】"
LANDLINE = "【电话】"
ID_CARD = "【身份证号】"
BANK_CARD = "【银行卡号】"
EMAIL = "【邮箱】"
PLATE = "【车牌号】"
QQ = "【QQ号】"
WECHAT = "【微信号】"
NUMBER = "【号码】"  # a 16-19 digit number that is neither a valid card nor an ID: still identifying
NAME = "【姓名】"
ADDRESS = "【门牌号】"
BIRTH_DATE = "【出生日期】"
PASSPORT = "【证件号】"
CREDIT_CODE = "【信用代码】"

# Chinese numerals read as digits, one character for one (so positions do not move). Not read: 一
# opening a word (一直, 一共, 一次 ...: "一三九…五六七八一直关机" is eleven digits and a word), and in a
# short mix with Arabic digits a numeral or two ("2022四年", "5000三个月" are a number and a word).
CN_DIGITS = str.maketrans("〇零一二三四五六七八九幺壹贰叁肆伍陆柒捌玖", "001234567891123456789")
_NUMERALS = "〇零一二三四五六七八九幺壹贰叁肆伍陆柒捌玖"
_ONE_WORD_RE = re.compile(r"一(?=[直共起样定般下些切次个天年月点旦方审再向律并半份笔家台周名位件场])")
_MIXED_RUN_RE = re.compile(r"[0-9" + _NUMERALS + r"]+")
_NUMERAL_RUN_RE = re.compile(r"[" + _NUMERALS + r"]{3,}")
_DIGITS3_RE = re.compile(r"[0-9](?:[ \-./_·~—]{0,3}[0-9]){2,}")


def _read_run(m: re.Match[str]) -> str:
    run = m.group(0)
    if len(run) >= 7 or not any("0" <= ch <= "9" for ch in run):
        return run.translate(CN_DIGITS)  # all numerals, or a long mix such as 1三8一2三4五6七8
    return _NUMERAL_RUN_RE.sub(lambda n: n.group(0).translate(CN_DIGITS), run)


def read_numerals(norm: str) -> str | None:
    """`norm` with Chinese numerals as ASCII digits (same length, same positions), or None when
    that reads no number of three digits or more (一审, 三个月, 第一千零三十二条: nothing to find)."""
    numerals = _MIXED_RUN_RE.sub(_read_run, _ONE_WORD_RE.sub("\ue000", norm)).replace("\ue000", "一")
    for m in _DIGITS3_RE.finditer(numerals):
        if numerals[m.start():m.end()] != norm[m.start():m.end()]:
            return numerals
    return None


# Separators people type inside numbers (after NFKC a full-width space or dash is ASCII).
_SEP = r"[ \-]"
# The looser set for numbers typed in groups: 139.1234.5678, 1391 2345 678, 139/1234/5678, 139 - 1234.
_GSEP = r"(?:[ ]?[\-./_·~—][ ]?|[ ]{1,2})"
_NOT_DIGIT_BEFORE = r"(?<![0-9])"
_NOT_DIGIT_AFTER = r"(?![0-9])"
_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_ALNUM_AFTER = r"(?![0-9A-Za-z])"
_HAN = "\u4e00-\u9fff"


def _first(lead: str, pattern: str, flags: int = 0) -> re.Pattern[str]:
    """`pattern` behind a look-ahead for the characters a match can start with: the engine then
    rejects most positions with one set test instead of trying every branch and look-behind."""
    return re.compile(r"(?=[" + lead + r"])(?:" + pattern + r")", flags)


EMAIL_RE = _first(
    r"A-Za-z0-9",
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@ ?[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9])"
)
# Spelled to dodge filters, or missing the domain's end: zhang#163.com, li at qq dot com, wang@qq, 123456@qq点com.
_MAIL_HOSTS = r"(?:qq|163|126|139|189|sina|sohu|yeah|foxmail|gmail|outlook|hotmail|aliyun|icloud|yahoo)"
_DOT = r"\s?(?:\.|点|dot)\s?"
EMAIL_LOOSE_RE = _first(
    r"A-Za-z0-9",
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._\-]{0,63}"
    r"\s?(?:@|#|\(at\)|\[at\]|\sat\s|艾特|圈a)\s?" + _MAIL_HOSTS
    + r"(?:" + _DOT + r"(?:com|cn|net)(?:" + _DOT + r"cn)?)?(?![A-Za-z0-9])",
    re.I,
)

# Only with a keyword in front: a bare 5-11 digit number is far more often an amount.
QQ_RE = _first(
    r"Qq扣企",
    r"(?:(?<![A-Za-z])qq(?![A-Za-z])|扣扣|企鹅号)(?:号码?)?\s{0,3}(?:是|为)?\s{0,3}[:：]?\s{0,3}(?P<v>[1-9][0-9]{4,11})"
    + _NOT_DIGIT_AFTER,
    re.I,
)
_WECHAT_KEY = (
    r"(?:微信|薇信|威信|徽信|维信|加微|加威|加薇|加\s?v(?![A-Za-z])"
    r"|(?<![A-Za-z])(?:weixin|wechat|vx|wx|v信)(?![A-Za-z])|(?<![A-Za-z])v(?=\s?[:：]))"
)
WECHAT_RE = _first(
    r"微薇威徽维加WwVv",
    _WECHAT_KEY + r"\s{0,3}(?:号码?|id|账号)?\s{0,3}(?:是|为)?\s{0,3}[:：]?\s{0,3}"
    r"(?P<v>[A-Za-z][A-Za-z0-9_\-]{5,19})(?![A-Za-z0-9_\-])",
    re.I,
)
# English words that follow 微信 in a question without being anyone's id.
WECHAT_WORDS = frozenset({"account", "accounts", "transfer", "payment", "wallet", "moments", "official",
                          "message", "messages", "record", "records", "screenshot", "groups", "refund"})

_DATE8 = r"(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_DATE6 = r"[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
DATE8_RE = re.compile(_DATE8)
# Region (6) + birth date (8) + sequence (3) + check (digit or X); people sometimes space the groups.
ID18_RE = _first(
    r"1-9",
    _NOT_ALNUM_BEFORE + r"[1-9][0-9]{5}" + _SEP + r"?" + _DATE8 + _SEP + r"?[0-9]{3}[0-9Xx]" + _NOT_ALNUM_AFTER
)
ID15_RE = re.compile(_NOT_ALNUM_BEFORE + r"[1-9][0-9]{5}" + _DATE6 + r"[0-9]{3}" + _NOT_ALNUM_AFTER)
# Any other grouping (440306 1985 0315 1234, 4403.0619.8503.1512.34): 18 characters, checked after.
ID_GROUPED_RE = _first(
    r"1-9",
    _NOT_ALNUM_BEFORE + r"[1-9][0-9](?:" + _GSEP + r"?[0-9]){15}" + _GSEP + r"?[0-9Xx]" + _NOT_ALNUM_AFTER
)
ID_PROVINCES = frozenset("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
                         "61 62 63 64 65 71 81 82 83".split())

CARD_RUN_RE = re.compile(_NOT_ALNUM_BEFORE + r"[0-9]{16,19}" + _NOT_ALNUM_AFTER)
# Grouped the way cards are printed: 4-4-4-4 with an optional short tail, or 6-(10..13).
CARD_GROUPED_RE = _first(
    r"0-9",
    _NOT_ALNUM_BEFORE
    + r"(?:[0-9]{4}(?P<s>[ \-])[0-9]{4}(?P=s)[0-9]{4}(?P=s)[0-9]{4}(?:(?P=s)[0-9]{1,3})?"
    + r"|[0-9]{6}[ \-][0-9]{10,13})"
    + _NOT_ALNUM_AFTER
)
# Grouped any other way (6222.0212.3456.7890, 62220212 34567890 123): decided by context and Luhn.
CARD_LOOSE_RE = _first(
    r"0-9",
    _NOT_ALNUM_BEFORE + r"[0-9]{2}(?:" + _GSEP + r"?[0-9]){14,17}" + _NOT_ALNUM_AFTER
)
BANK_CONTEXT_RE = re.compile(r"卡|账号|帐号|账户|帐户|银行|储蓄|信用|借记|card|acct|account", re.I)

MOBILE_RE = _first(
    r"(+0-9",
    _NOT_DIGIT_BEFORE
    + r"(?:(?:\(\s*)?(?:\+|00)?86(?:\s*\))?" + _SEP + r"?\s*)?"
    + r"1[3-9][0-9]" + _SEP + r"?[0-9]{4}" + _SEP + r"?[0-9]{4}"
    + _NOT_DIGIT_AFTER
)
# 139.1234.5678, 1391 2345 678, 139/1234/5678, 1 3 9 1 2 3 4 5 6 7 8: eleven digits, the first three
# together (so "1.5 2.5 3.5 ..." never starts one) or every digit apart with one separator.
MOBILE_LOOSE_RE = _first(
    r"(1",
    _NOT_DIGIT_BEFORE
    + r"(?:1[3-9][0-9](?:" + _GSEP + r"?[0-9]){8}|1(?P<s>[ \-./])[3-9](?:(?P=s)[0-9]){9}"
    + r"|\(1[3-9][0-9]\)(?:" + _GSEP + r"?[0-9]){8})"
    + _NOT_DIGIT_AFTER
)

_AREA = r"0(?:10|2[0-9]|[3-9][0-9]{2})"
LANDLINE_RE = _first(
    r"(+0-9",
    _NOT_DIGIT_BEFORE
    + r"(?:(?:\+|00)86" + _SEP + r"?)?"
    + r"(?:\(\s*" + _AREA + r"\s*\)\s*" + r"|" + _AREA + _SEP + r"?)"
    + r"[0-9]{3,4}" + _SEP + r"?[0-9]{4}"
    + r"(?:\s*(?:-|转|分机|ext\.?|x)\s*[0-9]{1,5})?"
    + _NOT_DIGIT_AFTER,
    re.I,
)

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_RE = re.compile(
    r"[" + _PROVINCES + r"][ ]{0,2}"
    r"(?P<city>[A-HJ-NP-Za-hj-np-z])"
    r"(?:[ ]?[\-·•・][ ]?|[ ]{1,2})?"
    r"(?:(?P<ne>[DFdf][A-HJ-NP-Za-hj-np-z0-9][0-9]{4}|[0-9]{5}[DFdf])"
    r"|(?P<reg>[A-HJ-NP-Za-hj-np-z0-9]{4}[A-HJ-NP-Za-hj-np-z0-9挂学警港澳领试超]"
    r"|(?:[A-HJ-NP-Za-hj-np-z0-9] ){4}[A-HJ-NP-Za-hj-np-z0-9]))"
    + _NOT_ALNUM_AFTER
)

# Passports (E12345678, EA1234567) and 通行证/回乡证/台胞证 numbers: after their keyword; the
# E-passport shape also alone (nothing else in a legal question is E + 8 digits).
PASSPORT_RE = _first(
    r"护通回台旅签Pp",
    r"(?:护照|通行证|回乡证|台胞证|旅行证|签证|passport)\s{0,3}(?:号码?|编号|证号)?\s{0,3}(?:是|为)?\s{0,3}[:：(]?\s{0,3}"
    r"(?P<v>[A-Za-z]{1,2} ?(?:[0-9] ?){6,7}[0-9]|[0-9]{8,10})" + _NOT_ALNUM_AFTER,
    re.I,
)
PASSPORT_BARE_RE = re.compile(_NOT_ALNUM_BEFORE + r"E(?:[0-9]{8}|[A-HJ-NP-Z][0-9]{7})" + _NOT_ALNUM_AFTER)

# 统一社会信用代码 (GB 32100-2015): 18 characters from 31, the last a MOD 31 check.
_CC = "0-9A-HJ-NP-RTUW-Ya-hj-np-rtuw-y"
CREDIT_CODE_RE = _first(
    r"0-9A-Za-z",
    _NOT_ALNUM_BEFORE + r"[" + _CC + r"]{2}[0-9]{6}[" + _CC + r"]{10}" + _NOT_ALNUM_AFTER
)
CREDIT_CONTEXT_RE = re.compile(r"信用代码|税号|纳税人识别号|营业执照|注册号")
_CC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# Names: only where the question itself says "this is a name" — 我叫…, 她叫…, 姓名：…, 联系人…, and a
# surname right before 先生/女士/小姐 or 经理/律师/老师/医生/法官/警官. A bare name ("张建华欠我钱")
# cannot be told from words without a model.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
    "向汤常温康施牛樊葛邢齐易乔伍庞颜倪庄聂章鲁岳翟殷詹欧耿焦俞左柳甘祝包宁尚舒阮柯纪梅童凌毕单季裴霍涂苗"
    "谷盛曲翁骆蓝辛靳管柴蒙鲍喻祁蒲滕屈饶艾尤穆卓岑戚"
)
PLACEHOLDER_NAMES = frozenset({"张三", "李四", "王五", "赵六", "钱七", "孙八", "周九", "吴十"})
_COMPOUND = "欧阳|司马|诸葛|上官|东方|皇甫|慕容|司徒|令狐|夏侯|宇文|长孙|尉迟|公孙|端木"
_SURNAME = r"(?:" + _COMPOUND + r"|[" + SURNAMES + r"])"
# Characters that end a name rather than continue it (the next word has begun).
_AFTER_NAME = "某的是在了和与跟今去年月日因我你他她从把被给说要想没不也都就还又到让对向为以于及或而但可吗呢吧啊么怎什哪已曾刚现"
_GIVEN = r"(?:(?![" + _AFTER_NAME + r"])[" + _HAN + r"])"
NAME_INTRO_RE = _first(
    r"我他她名叫本姓联",
    r"(?:[我他她]叫|名叫|叫做|我的名字(?:叫|是)|名字叫|本人(?:姓名)?(?:叫|是)?|姓名\s{0,3}(?:是|为|[:：])|联系人\s{0,3}(?:是|为|[:：])?)"
    r"\s{0,3}(?P<v>" + _SURNAME + _GIVEN + r"{1,2})"
)
_NAME_START = r"(?:(?<![" + _HAN + r"])|(?<=[叫是找给和跟与向被了位请问]))"
# Before a job title a few surnames are more often the end of a word: 十万律师费, 向法官申请, 交了钱老师.
_TITLE_SURNAME = r"(?:" + _COMPOUND + r"|[" + SURNAMES.translate(str.maketrans("", "", "于向万钱金")) + r"])"
_NOT_SURNAME_AFTER = "对双一我他她你甲乙男女买卖各任如历基"  # 对方女士, 任何律师, 历史老师, 基金经理
TITLE_HINT_RE = re.compile(r"先生|女士|小姐|经理|律师|老师|医生|法官|警官")
NAME_TITLE_RE = _first(
    SURNAMES + "".join(sorted({c[0] for c in _COMPOUND.split("|")})),
    _NAME_START + r"(?P<v>" + _SURNAME + _GIVEN + r"{1,2})(?=先生|女士|小姐)"
    + r"|(?<![" + _NOT_SURNAME_AFTER + r"])(?P<s>" + _SURNAME + r")(?=先生|女士|小姐)"
    + r"|(?<![" + _NOT_SURNAME_AFTER + r"])(?P<t>" + _TITLE_SURNAME + r")(?=经理|律师|老师|医生|法官|警官)"
)

# The door, not the district: 路/街 + house number, 栋/单元/室, 组 + 号. Town, district and road stay
# (they decide which court and which local rules apply).
_BUILDING = r"(?:[0-9]{1,4}|[A-Za-z])(?:号院|号楼|栋|幢|座)-?"
_UNIT = r"[0-9]{1,2}单元-?"
_FLOOR = r"(?:[0-9]{1,2}(?:层|楼)-?)?"
# The door number itself, not followed by another building ("1号楼12号楼" is two buildings).
_DOOR = r"[0-9]{2,5}(?:室|户|房|号(?!楼|院))?(?![0-9]|号楼|号院|栋|幢|座|单元)"
ADDRESS_HINT_RE = re.compile(r"[0-9A-Za-z](?:号|栋|幢|座|单元)|[0-9](?:室|户|房|组)|[0-9]-[0-9]")
ADDRESS_RE = _first(
    r"路街巷胡大0-9A-Za-z",
    r"(?:路|街|巷|胡同|大道)(?P<v>[0-9]{1,5}(?:[-之][0-9]{1,4})?(?:弄[0-9]{1,4})?号(?:院|楼)?"
    r"(?:" + _BUILDING + r"){0,2}(?:" + _UNIT + r")?" + _FLOOR + r"(?:" + _DOOR + r")?)"
    r"|(?P<d>(?:(?:" + _BUILDING + r"){1,2}(?:" + _UNIT + r")?|" + _UNIT + r")" + _FLOOR + _DOOR
    + r"|(?:" + _BUILDING + r"){1,2}" + _UNIT + r"|" + _NOT_DIGIT_BEFORE + r"[0-9]{3,5}(?:室|户|房)"
    r"|[0-9]{1,3}组[0-9]{1,4}号|(?<=村)[0-9]{1,4}号"
    r"|(?<=[区园苑庭府城村院寓厦居湾墅阁])[0-9]{1,3}-[0-9]{1,2}-[0-9]{3,4}(?:室|号)?" + _NOT_DIGIT_AFTER + r")"
)

# A whole date of birth (year, month and day) next to a word that says so; a year alone stays.
_MONTH = r"(?:十[12]?|1[0-2]|0?[1-9])"
_DAY = r"(?:[123]?十[1-9]?|3[01]|[12][0-9]|0?[1-9])"


def _ymd(sep: str) -> str:
    spelled = r"(?:(?:18|19|20)?[0-9]{2})\s?年\s?" + _MONTH + r"\s?月\s?" + _DAY + r"\s?[日号]?"
    numeric = r"(?:18|19|20)[0-9]{2}(?P<" + sep + r">[-./])" + _MONTH + r"(?P=" + sep + r")" + _DAY
    return _NOT_DIGIT_BEFORE + r"(?:" + spelled + r"|" + numeric + r"|" + _DATE8 + r")" + _NOT_DIGIT_AFTER


BIRTH_HINT_RE = re.compile(r"生|dob|birthday", re.I)
BIRTH_RE = _first(
    r"出生DdBb0-9",
    r"(?:出生日期|出生年月日?|出生于|出生在|出生|生日|生于|dob|birthday)\s{0,3}(?:是|为|[:：])?\s{0,3}(?P<v>" + _ymd("a") + r")"
    r"|(?P<w>" + _ymd("b") + r")\s?(?=出生|生人|的生日|生(?=[,，。.\s的]|$))",
    re.I,
)


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


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_checksum_ok(number: str) -> bool:
    """ISO 7064 MOD 11-2: the last character of an 18-character 身份证号."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def credit_code_ok(code: str) -> bool:
    """GB 32100-2015 MOD 31: the last character of an 18-character 统一社会信用代码."""
    code = code.upper()
    if len(code) != 18 or any(c not in _CC_CHARS for c in code):
        return False
    total = sum(_CC_CHARS.index(c) * w for c, w in zip(code[:17], _CC_WEIGHTS, strict=True))
    return _CC_CHARS[(31 - total % 31) % 31] == code[17]


def alnum(s: str) -> str:
    return "".join(ch for ch in s if ch.isascii() and ch.isalnum())


def bank_context(text: str, start: int) -> bool:
    return bool(BANK_CONTEXT_RE.search(text, max(0, start - 12), start))


def id18(m: re.Match[str], text: str) -> str | None:
    raw = re.sub(_SEP, "", m.group(0))
    if not id_checksum_ok(raw) and luhn_ok(raw) and raw.isdigit():
        return BANK_CARD  # an 18-digit card whose digits happen to look like a birth date
    return ID_CARD


def id_grouped(m: re.Match[str], text: str) -> str | None:
    raw = alnum(m.group(0))
    if raw[:2] not in ID_PROVINCES or not DATE8_RE.fullmatch(raw, 6, 14):
        return None
    if not id_checksum_ok(raw) and raw.isdigit() and luhn_ok(raw) and bank_context(text, m.start()):
        return BANK_CARD
    return ID_CARD


def card_run(m: re.Match[str], text: str) -> str | None:
    if luhn_ok(m.group(0)) or bank_context(text, m.start()):
        return BANK_CARD
    # 16-19 digits are never an amount, year or article number; an order or account
    # number still points at a person, so it goes too, under a neutral name.
    return NUMBER


_YEAR_GROUP_RE = re.compile(r"(?:19|20)[0-9]{2}")


def years_list(s: str) -> bool:
    """'2019 2020 2021 2022': a run of years, whatever the Luhn digit or the word before says."""
    groups = re.split(r"[^0-9]+", s.strip())
    return len(groups) > 2 and all(_YEAR_GROUP_RE.fullmatch(g) for g in groups)


def card_grouped(m: re.Match[str], text: str) -> str | None:
    digits = alnum(m.group(0))
    if years_list(m.group(0)):
        return None
    if luhn_ok(digits) or bank_context(text, m.start()):
        return BANK_CARD
    return None  # "2021 2022 2023 2024" and other lists of short numbers


def card_loose(m: re.Match[str], text: str) -> str | None:
    digits = alnum(m.group(0))
    if years_list(m.group(0)):
        return None
    if bank_context(text, m.start()) or (digits[0] in "3456" and luhn_ok(digits)):
        return BANK_CARD  # card numbers start 3-6 (UnionPay 62); lists of years start 1 or 2
    return None


def credit_code(m: re.Match[str], text: str) -> str | None:
    if credit_code_ok(m.group(0)) or CREDIT_CONTEXT_RE.search(text, max(0, m.start() - 12), m.start()):
        return CREDIT_CODE
    return None


def name(m: re.Match[str], text: str) -> str | None:
    # 张三/李四/王五 are the stock names of legal hypotheticals ("张三打伤了李四"), kept so the firm
    # sees those questions as asked; a real name in the same place goes.
    return None if (m.group("v") or "") in PLACEHOLDER_NAMES else NAME


def passport(m: re.Match[str], text: str) -> str | None:
    return None if DATE8_RE.fullmatch(m.group("v")) else PASSPORT  # 护照20250501到期 is a date


def wechat(m: re.Match[str], text: str) -> str | None:
    return None if m.group("v").lower() in WECHAT_WORDS else WECHAT


def plate(m: re.Match[str], text: str) -> str | None:
    if m.group("reg"):
        body = m.group("reg")
        letters = sum(ch.isascii() and ch.isalpha() for ch in body)
        digits = sum(ch.isdigit() for ch in body)
        if letters > 2 or digits < 3:  # real serials have at most two letters
            return None
    return PLATE
