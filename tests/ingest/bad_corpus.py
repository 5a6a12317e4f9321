"""A source folder and a CMS export holding every kind of bad record the nightly job has met, or could.

Built in a temporary folder by the tests (nothing huge is committed). Each bad
input has an expectation: the file (and JSONL line) it is reported under, a
piece of the reason, and whether the article is still kept (a warning) or
lost. Good articles have distinct legal topics, so each is found by its title.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

FIX = Path(__file__).resolve().parent.parent / "fixtures"
PAGE_TITLE = "公司拖欠工资三个月，找谁要？别急，按这几步来！"  # tests/fixtures/pages/firm-page-laodong.txt
MAX_BYTES = 300_000

TOPICS = [
    (
        "试用期被辞退有补偿吗？",
        "试用期解除劳动合同，用人单位要证明劳动者不符合录用条件，否则属于违法解除，可以主张赔偿金。",
    ),
    (
        "离婚冷静期是多少天？",
        "协议离婚提交申请后有三十日的离婚冷静期，期满后三十日内双方要亲自到婚姻登记机关申请发给离婚证。",
    ),
    (
        "交通事故对方全责不赔钱怎么办？",
        "交通事故责任认定书出来后，对方拒不赔偿的，可以向法院起诉，同时申请财产保全，保险公司在交强险范围内先行赔付。",
    ),
    (
        "网贷逾期会有人上门催收吗？",
        "网贷平台委托的催收人员不得冒充公检法，不得骚扰借款人的亲友，上门催收也不能采取暴力或者威胁手段。",
    ),
    (
        "房东不退押金可以起诉吗？",
        "租赁合同到期后房东无正当理由扣押金，租客可以凭合同和转账记录向法院起诉，要求返还押金并支付利息。",
    ),
    (
        "借条和欠条有什么区别？",
        "借条证明的是借贷关系，欠条证明的是欠款事实，两者的诉讼时效起算点不同，打官司时举证责任也不一样。",
    ),
    (
        "工伤认定需要多长时间？",
        "社会保险行政部门受理工伤认定申请后，一般在六十日内作出认定决定，事实清楚的十五日内就能作出决定。",
    ),
    (
        "加班费的计算标准是什么？",
        "工作日延长工作时间按工资的百分之一百五十支付，休息日安排工作又不能补休的按百分之二百支付加班费。",
    ),
    (
        "遗嘱怎么写才有效？",
        "自书遗嘱要由遗嘱人亲笔书写全文并签名，注明年月日；打印遗嘱要有两个以上见证人在每一页签名。",
    ),
    (
        "被狗咬伤了主人要赔偿吗？",
        "饲养的动物造成他人损害的，动物饲养人或者管理人应当承担侵权责任，包括医疗费和误工费。",
    ),
    (
        "买到假货可以要求三倍赔偿吗？",
        "经营者提供商品有欺诈行为的，消费者可以要求退一赔三，增加赔偿的金额不足五百元的按五百元计算。",
    ),
    (
        "公司不交社保可以辞职要补偿吗？",
        "用人单位未依法为劳动者缴纳社会保险费，劳动者可以解除劳动合同，并要求支付经济补偿金。",
    ),
    (
        "离婚时孩子抚养权归谁？",
        "不满两周岁的子女以由母亲直接抚养为原则，已满八周岁的子女，应当尊重其真实意愿来确定抚养权。",
    ),
    (
        "信用卡逾期会坐牢吗？",
        "恶意透支信用卡，经发卡银行两次有效催收后超过三个月仍不归还，数额较大的，可能构成信用卡诈骗罪。",
    ),
    (
        "物业费不交会被起诉吗？",
        "业主以未享受物业服务为由拒交物业费的，物业公司可以起诉追讨，业主还可能承担违约金和诉讼费用。",
    ),
    (
        "邻居装修噪音扰民怎么办？",
        "装修噪音超过规定时段和标准的，可以先找物业协调，协调不成可以向环保部门投诉，必要时提起相邻权诉讼。",
    ),
    (
        "彩礼在什么情况下可以要回？",
        "双方未办理结婚登记手续，或者办理登记但确未共同生活，或者婚前给付导致给付人生活困难的，可以请求返还彩礼。",
    ),
    (
        "医疗事故怎么鉴定和索赔？",
        "患者可以申请医疗损害鉴定，确定医院有无过错以及过错与损害之间的因果关系，再据此主张医疗损害赔偿。",
    ),
    (
        "竞业限制协议有效吗？",
        "竞业限制只适用于高级管理人员、高级技术人员和其他负有保密义务的人员，期限不得超过二年，单位要按月支付补偿。",
    ),
    (
        "夫妻一方的婚前房产离婚时怎么分？",
        "一方婚前全款购买的房屋属于个人财产，婚后共同还贷的部分以及对应的增值，离婚时要由取得房屋的一方补偿对方。",
    ),
    (
        "民间借贷利息最高多少受法律保护？",
        "民间借贷约定的利率超过合同成立时一年期贷款市场报价利率四倍的，超过部分的利息不受法律保护。",
    ),
    (
        "酒驾会被判刑吗？",
        "血液酒精含量达到八十毫克每百毫升以上属于醉驾，可能构成危险驾驶罪，处拘役并处罚金，同时吊销驾驶证。",
    ),
    (
        "被公司调岗降薪可以拒绝吗？",
        "用人单位单方调岗降薪需要有合理理由，变更劳动合同应当协商一致，劳动者可以拒绝不合理的调岗。",
    ),
    (
        "网购退货运费由谁承担？",
        "七日无理由退货的运费一般由消费者承担，但商品存在质量问题的，退货运费应当由经营者承担。",
    ),
    (
        "继承房产需要交哪些税？",
        "法定继承人继承房产免征个人所得税和契税，办理继承公证和过户登记只需缴纳少量的登记费和公证费。",
    ),
    (
        "劳务派遣员工能同工同酬吗？",
        "被派遣劳动者享有与用工单位的劳动者同工同酬的权利，用工单位应当按照同工同酬原则实行相同的劳动报酬分配办法。",
    ),
    (
        "高空抛物砸伤人谁来赔偿？",
        "从建筑物中抛掷物品造成他人损害的，由侵权人承担责任；难以确定具体侵权人的，由可能加害的建筑物使用人给予补偿。",
    ),
    (
        "合同违约金过高怎么办？",
        "约定的违约金过分高于造成的损失的，当事人可以请求人民法院或者仲裁机构予以适当减少，一般以损失的百分之三十为界。",
    ),
    (
        "个人债务会连累家人吗？",
        "个人以自己名义所负的债务原则上由本人偿还，父母子女没有替其还债的义务，但夫妻共同债务要由夫妻共同承担。",
    ),
    (
        "老人赡养费标准是多少？",
        "赡养费一般根据子女的收入状况和老人的实际需要确定，兄弟姐妹之间可以协商分担，协商不成的可以起诉。",
    ),
]


@dataclass
class Expect:
    """One bad input: where it is reported, a piece of its reason, and whether its article is kept."""

    kind: str
    source: str  # the end of Skipped.source: a file name, or "export.jsonl:7"
    reason: str
    kept: bool = False
    line: int | None = None


@dataclass
class BadCorpus:
    folder: Path
    outside: Path  # a file outside the folder that must never be read
    good_titles: list[str] = field(default_factory=list)
    expected: list[Expect] = field(default_factory=list)
    max_bytes: int = MAX_BYTES


def body(n: int) -> str:
    title, text = TOPICS[n]
    advice = "遇到这种情况，建议先保存好证据，再咨询专业律师。"
    return f"{title.rstrip('？')}这个问题，很多当事人都来咨询过。{text}{advice}"


def md(n: int, extra: str = "", title: str | None = None) -> str:
    t = TOPICS[n][0] if title is None else title
    return f"---\ntitle: {t}\ncategory: 测试\n{extra}---\n\n{body(n)}\n"


class _Builder:
    def __init__(self, root: Path) -> None:
        self.src = root / "src"
        self.src.mkdir()
        outside = root / "outside"
        outside.mkdir()
        self.c = BadCorpus(self.src, outside / "passwd.txt")
        self.c.outside.write_text(
            "root:x:0:0:root:/root:/bin/bash 服务器密码文件 nologin\n", encoding="utf-8"
        )
        self.used = 0

    def topic(self) -> int:
        self.used += 1
        return self.used - 1

    def good(self, name: str | bytes, data: bytes, title: str) -> None:
        path = os.path.join(os.fsencode(self.src), name) if isinstance(name, bytes) else self.src / name
        with open(path, "wb") as fh:
            fh.write(data)
        self.c.good_titles.append(title)

    def bad(
        self, kind: str, name: str, data: bytes | None, reason: str, kept_title: str | None = None
    ) -> None:
        if data is not None:
            (self.src / name).write_bytes(data)
        self.c.expected.append(Expect(kind, name, reason, kept=kept_title is not None))
        if kept_title is not None:
            self.c.good_titles.append(kept_title)

    def link(self, kind: str, name: str, target: str | Path, reason: str) -> None:
        os.symlink(target, self.src / name)
        self.c.expected.append(Expect(kind, name, reason))


def _good_files(b: _Builder) -> None:
    n = b.topic()
    b.good("good.md", md(n, "date: 2025-03-02\ntags: [劳动, 2024]\n").encode(), TOPICS[n][0])
    n = b.topic()
    b.good("名字 有空格.md", md(n).encode(), TOPICS[n][0])
    n = b.topic()
    b.good("new\nline.md", md(n).encode(), TOPICS[n][0])
    n = b.topic()
    b.good(b"latin1-\xe9t\xe9.md", md(n).encode(), TOPICS[n][0])  # a file name that is not UTF-8
    n = b.topic()
    b.good("utf16-bom.md", md(n).encode("utf-16"), TOPICS[n][0])
    n = b.topic()
    b.good("utf16-no-bom.txt", f"{TOPICS[n][0]}\n{body(n)}\n".encode("utf-16-le"), TOPICS[n][0])
    n = b.topic()
    b.good(
        "gbk.txt", f"当前位置:首页>测试> 正文内容\n{TOPICS[n][0]}\n{body(n)}\n".encode("gbk"), TOPICS[n][0]
    )
    big5_title = "網貸逾期會被起訴嗎？"
    b.good(
        "big5.md",
        f"---\ntitle: {big5_title}\n---\n網貸逾期以後，平臺可能向法院起訴，要求償還本金和利息。".encode(
            "big5"
        ),
        big5_title,
    )
    n = b.topic()
    raw = md(n).encode()
    b.good("broken-utf8.md", raw[:-20] + b"\xff\xfe" + raw[-20:], TOPICS[n][0])
    n = b.topic()
    deep = "<div>" * 20_000 + f"<p>{body(n)}</p>" + "</div>" * 20_000
    b.good(
        "deep.html",
        f"<html><head><title>{TOPICS[n][0]}</title></head><body>{deep}</body></html>".encode(),
        TOPICS[n][0],
    )
    n = b.topic()
    (b.src / "notes.md").mkdir()  # a folder named like a Markdown file
    b.good("notes.md/inner.md", md(n).encode(), TOPICS[n][0])
    shutil.copy(FIX / "pages" / "firm-page-laodong.txt", b.src / "page.txt")
    b.c.good_titles.append(PAGE_TITLE)


def _kept_files(b: _Builder) -> None:
    n = b.topic()
    b.bad("YAML tags: 5", "tags-5.md", md(n, "tags: 5\n").encode(), "tags must be a list", TOPICS[n][0])
    n = b.topic()
    b.bad(
        "front matter date 2025-13-45",
        "bad-date.md",
        md(n, "date: 2025-13-45\n").encode(),
        'date "2025-13-45" is not a date (YYYY-MM-DD)',
        TOPICS[n][0],
    )
    n = b.topic()
    text = f"---\ncategory: 测试\n---\n## {TOPICS[n][0]}\n\n{body(n)}\n"
    b.bad("front matter without title", "no-title.md", text.encode(), "no title", TOPICS[n][0])
    n = b.topic()
    page = f"<html><body><div><p>{TOPICS[n][0]}{body(n)}</p></div></body></html>"
    b.bad("HTML page without title", "no-title.html", page.encode(), "no title", TOPICS[n][0])
    http_page = (
        (FIX / "pages" / "firm-page-laodong.txt")
        .read_text(encoding="utf-8")
        .replace(
            "https://www.example-law.cn/hf/20001.html",
            "http://WWW.example-law.cn/hf/20001.html/?utm_source=wechat#top",
        )
    )
    b.bad(
        "same page as http with utm_*, slash, fragment", "page-http.txt", http_page.encode(), "duplicate id"
    )


def _lost_files(b: _Builder) -> None:
    n = b.topic()
    b.bad("empty file", "empty.md", b"", "empty file")
    b.bad("whitespace-only file", "blank.txt", b" \n\t\n", "whitespace only")
    b.bad("binary file", "binary.txt", bytes(range(256)) * 8, "binary file")
    b.bad(
        "huge file",
        "huge.md",
        md(n).encode() + "很长的文章。".encode() * 20_000,
        f"over the {MAX_BYTES:,}-byte limit",
    )
    b.bad(
        "broken front matter",
        "broken-front.md",
        b"---\ntitle: [unclosed\n---\n\xe6\xad\xa3\xe6\x96\x87",
        "not valid YAML",
    )
    b.bad("unclosed front matter", "unclosed-front.md", "---\ntitle: 没有结束\n正文".encode(), "not closed")
    b.bad(
        "front matter not a mapping", "front-list.md", "---\n- a\n- b\n---\n正文内容".encode(), "'key: value'"
    )
    b.bad(
        "YAML title: [拖欠, 工资]",
        "title-list.md",
        md(n, title="[拖欠, 工资]").encode(),
        'title must be text, found a list ["拖欠", "工资"]',
    )
    b.bad(
        "YAML title: yes", "title-yes.md", md(n, title="yes").encode(), "title must be text, found true/false"
    )
    b.bad(
        "YAML title: 2024",
        "title-number.md",
        md(n, title="2024").encode(),
        "title must be text, found a number",
    )
    b.bad("empty body", "no-body.md", "---\ntitle: 只有标题\n---\n\n".encode(), "empty body")
    deep_yaml = "---\ntitle: 很深\ntags: " + "[" * 5000 + "]" * 5000 + "\n---\n正文内容"
    b.bad("YAML nested 5,000 deep", "deep-yaml.md", deep_yaml.encode(), "nested too deeply")
    b.bad("unsupported type", "image.png", b"\x89PNG\r\n\x1a\n", "unsupported file type")
    b.bad(
        "URL list inside a folder",
        "urls.txt",
        b"http://127.0.0.1:9/admin.html\nhttp://10.0.0.1/x\n",
        "never fetches",
    )
    menu = (
        "<html><head><title>示例律师事务所</title></head><body><div class='nav'>网站首页</div></body></html>"
    )
    b.bad("HTML page without article text", "menu.html", menu.encode(), "article text")
    b.bad(
        "page text with only site boilerplate",
        "stub.txt",
        "扫描二维码推送至手机访问。\n".encode(),
        "boilerplate",
    )
    b.bad(
        "duplicate id in front matter",
        "zz-dup-id.md",
        md(0, "id: good\n", title="重复的编号").encode(),
        "duplicate id 'good'",
    )
    os.mkfifo(b.src / "fifo.md")
    b.c.expected.append(Expect("named pipe", "fifo.md", "not a regular file: a named pipe"))
    b.link("symlink outside the folder", "secret.txt", b.c.outside, "outside the source folder")
    b.link("symlink to /etc/passwd", "passwd.md", "/etc/passwd", "outside the source folder")
    b.link("symlink loop", "loop1.md", "loop2.md", "symbolic link loop")
    b.link("symlink loop (other end)", "loop2.md", "loop1.md", "symbolic link loop")
    b.link("self-referencing symlink", "self.md", "self.md", "symbolic link loop")
    b.link("broken symlink", "dangling.md", "does-not-exist.md", "broken symbolic link")
    b.link("symlink inside the folder (not followed by default)", "alias.md", "good.md", "not followed")
    b.link("symlink to a folder outside", "etc", "/etc", "outside the source folder")
    b.link("symlink to the folder itself", "again", ".", "not followed")
    if os.geteuid() != 0:  # root reads any file: tested with a simulated EACCES in test_bad_inputs.py
        b.bad("file without read permission", "unreadable.md", md(0).encode(), "permission denied")
        os.chmod(b.src / "unreadable.md", 0)


class _Export:
    """Lines of a JSONL export, each with what loading it must give."""

    def __init__(self, b: _Builder) -> None:
        self.b = b
        self.lines: list[tuple[str, str | None, bool, str | None]] = []  # line, reason, kept, title kept

    def raw(self, line: str, reason: str | None, kept: bool = False, title: str | None = None) -> None:
        self.lines.append((line, reason, kept, title))

    def rec(self, reason: str, **record: object) -> None:
        """A record that is lost."""
        self.raw(json.dumps(record, ensure_ascii=True), reason)

    def topic(self, reason: str | None, **over: object) -> None:
        """A record on a fresh topic that is kept; `reason` is its warning, if any."""
        n = self.b.topic()
        record: dict[str, object] = {
            "id": f"cms-{n}",
            "title": TOPICS[n][0],
            "body": body(n),
            "category": "测试",
        }
        record.update(over)
        title = record["title"]
        if title == "":  # the first sentence of the body becomes the title
            title = body(n).split("。", 1)[0] + "。"
        self.raw(json.dumps(record, ensure_ascii=True), reason, reason is not None, title)

    def write(self, path: Path) -> None:
        path.write_bytes(
            "\n".join(line for line, *_ in self.lines).encode("utf-8", "surrogatepass") + b"\n\n"
        )
        for n, (_line, reason, kept, title) in enumerate(self.lines, start=1):
            if reason is not None:
                self.b.c.expected.append(
                    Expect(f"export line {n}", f"{path.name}:{n}", reason, kept=kept, line=n)
                )
            if title is not None:
                self.b.c.good_titles.append(title)


def _export(b: _Builder) -> None:
    """export.jsonl: good lines among every kind of bad record; and a UTF-16 export."""
    e = _Export(b)
    e.topic(None, id="cms-first", published="2024-05-06", tags=["a", "b"])
    e.topic("tags must be a list", tags=5)
    n = b.topic()
    e.raw(
        json.dumps({"id": f"cms-{n}", "title": "\ud83d " + TOPICS[n][0], "body": body(n)}),
        "lone surrogate",
        True,
        "\ufffd " + TOPICS[n][0],
    )
    e.raw("[" * 100_000, "nested deeper than 64")
    e.rec(
        'title must be text, found a list ["拖欠", "工资"]',
        id="t-list",
        title=["拖欠", "工资"],
        body="正文。",
    )
    e.rec("title must be text, found true/false", id="t-yes", title=True, body="正文。")
    e.topic('category must be text, found a list ["a", "b"]', category=["a", "b"])
    e.topic('published "2025-13-45" is not a date', published="2025-13-45")
    e.topic('tags must be texts, found an object {"name": "a"}', tags=[{"name": "a"}])
    e.rec(
        'id must be text or a whole number, found an object {"x": 1}',
        id={"x": 1},
        title="编号",
        body="正文。",
    )
    e.rec("id must be text or a whole number, found true/false", id=True, title="编号", body="正文。")
    e.raw('{"title": "坏的JSON", "body": ', "invalid JSON at column")
    e.raw("[1, 2]", "must be one JSON object, found a list")
    e.rec("missing body", id="no-body", title="没有正文")
    e.rec("body must be text, found a list", id="body-list", title="正文是列表", body=["a"])
    e.topic("no title", title="")
    e.topic("is not an http(s) address", url="javascript:alert(1)")
    e.topic("published must be a date text", published=1700000000)
    e.rec("duplicate id 'cms-first'", id="cms-first", title="重复的编号", body="正文。")
    e.raw('{"pad": "' + "x" * (MAX_BYTES + 100) + '"}', f"over the {MAX_BYTES:,}-byte limit")
    e.raw('{"title": "NUL\x00", "body": "x"}', "not text")
    e.rec("only site boilerplate", id="boiler", title="只有版权", body="版权声明：本文由示例律师事务所原创。")
    e.raw('{"id": "big", "title": "大数", "body": "正文。", "n": ' + "9" * 5000 + "}", "invalid JSON")
    e.topic(None, id=12345)
    n = b.topic()
    old_url = "http://WWW.example-law.cn/faq/77/?utm_source=wechat&utm_medium=share#comments"
    e.rec("duplicate id", title=TOPICS[n][0] + "（旧地址）", body=body(n), url=old_url)
    e.raw(
        json.dumps({"title": TOPICS[n][0], "body": body(n), "url": "https://www.example-law.cn/faq/77"}),
        None,
        False,
        TOPICS[n][0],
    )
    e.write(b.src / "export.jsonl")
    n = b.topic()  # the same kind of export saved by a Windows tool: UTF-16 with a BOM
    record = {"id": "utf16-1", "title": TOPICS[n][0], "body": body(n)}
    (b.src / "export-utf16.jsonl").write_bytes(json.dumps(record, ensure_ascii=False).encode("utf-16"))
    b.c.good_titles.append(TOPICS[n][0])


def make_bad_corpus(root: Path) -> BadCorpus:
    """Write the folder under `root`/src (and one file outside it) and return what loading it must give."""
    b = _Builder(root)
    _good_files(b)
    _kept_files(b)
    _lost_files(b)
    _export(b)
    assert b.used <= len(TOPICS), "add topics"
    return b.c
