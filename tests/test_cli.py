"""The command lines: documented in docs/cli.md and docs/settings.md (as sqlite-utils checks its README), and
well-behaved in a shell."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from index.cli import make_parser as index_parser
from index.settings import ENV_NAMES, Settings, SettingsError, settings
from ingest.cli import make_parser as ingest_parser

ROOT = Path(__file__).resolve().parent.parent
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
SETTINGS_DOC = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")


def _commands(parser: argparse.ArgumentParser):
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    yield from sub.choices.items()


@pytest.mark.parametrize("prog,parser", [("python -m index", index_parser()), ("python -m ingest", ingest_parser())])
def test_every_command_and_option_is_documented_and_has_help(prog, parser):
    for name, sub in _commands(parser):
        assert f"{prog} {name}" in CLI_DOC, f"docs/cli.md does not mention `{prog} {name}`"
        for action in sub._actions:
            if not action.option_strings or action.dest == "help":
                continue
            assert action.help, f"{prog} {name} {action.option_strings} has no help text"
            assert any(o in CLI_DOC for o in action.option_strings), (
                f"docs/cli.md does not document {prog} {name} {'/'.join(action.option_strings)}"
            )


def test_every_setting_is_documented():
    for env in ENV_NAMES.values():
        assert f"`{env}`" in SETTINGS_DOC, f"docs/settings.md does not list {env}"


def test_settings_are_read_in_one_place_with_clear_errors():
    assert settings({}) == Settings()
    got = settings({"LAWFAQ_INDEX": " /srv/idx ", "LAWFAQ_TORCH_THREADS": "2", "LAWFAQ_QUERY_LOG": "off"})
    assert got.index == "/srv/idx" and got.torch_threads == 2 and got.query_log_path is None
    with pytest.raises(SettingsError, match="LAWFAQ_TORCH_THREADS"):
        settings({"LAWFAQ_TORCH_THREADS": "two"})
    with pytest.raises(SettingsError, match="LAWFAQ_MAX_BYTES"):
        settings({"LAWFAQ_MAX_BYTES": "-1"})


def test_no_module_reads_lawfaq_variables_behind_the_settings_module():
    offenders = []
    for path in [*ROOT.glob("index/*.py"), *ROOT.glob("ingest/**/*.py"), ROOT / "app.py"]:
        text = path.read_text(encoding="utf-8")
        if path.name != "settings.py" and ("environ.get(\"LAWFAQ_" in text or "getenv(\"LAWFAQ_" in text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_ingest_never_imports_index():
    for path in ROOT.glob("ingest/**/*.py"):
        text = path.read_text(encoding="utf-8")
        assert "from index" not in text and "import index" not in text, path


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, **kwargs)


def test_inspect_of_a_missing_path_fails(tmp_path):
    out = run("-m", "ingest", "inspect", str(tmp_path / "nope"))
    assert out.returncode == 1 and "no such file or folder" in out.stderr


def test_verbose_flag_works_after_the_subcommand():
    out = run("-m", "ingest", "inspect", "tests/fixtures/corpus/cizhi-buchang.md", "--json", "-v")
    assert out.returncode == 0
    article = json.loads(out.stdout)["articles"][0]
    assert "劳动合同法第47条" in article["statutes"]


def test_inspect_shows_title_citations_on_every_passage(tmp_path):
    page = tmp_path / "a.md"
    page.write_text("---\ntitle: 民法典第1077条的离婚冷静期怎么算？\n---\n\n冷静期是三十天。\n\n期满后三十日内双方要亲自去登记。\n",
                    encoding="utf-8")
    out = json.loads(run("-m", "ingest", "inspect", str(page), "--json").stdout)
    for passage in out["articles"][0]["passages"]:
        assert "中华人民共和国民法典 第1077条" in passage["statutes"]
        assert "民法典第1077条" in passage["statute_labels"]


def test_json_output_piped_into_head_ends_quietly():
    shell = f"{sys.executable} -m ingest inspect tests/fixtures/corpus --json | head -c 100 > /dev/null"
    out = subprocess.run(["bash", "-o", "pipefail", "-c", shell], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr, out.stderr


def test_rollback_json_and_exit_codes(tmp_path):
    from index.storage.layout import IndexDir

    layout = IndexDir(tmp_path / "idx")
    for name in ("v1", "v2"):
        (layout.tmp / name).mkdir(parents=True)
        (layout.tmp / name / "manifest.json").write_text("{}")
        layout.publish(layout.tmp / name, name)
    out = run("-m", "index", "rollback", "--index", str(layout.root), "--json")
    assert out.returncode == 0 and json.loads(out.stdout) == {
        "status": "rolled_back", "index": str(layout.root), "from": "v2", "to": "v1"}
    again = run("-m", "index", "rollback", "--index", str(layout.root), "--json")
    assert again.returncode == 1 and json.loads(again.stdout)["status"] == "failed"


def test_search_rejects_a_bad_date_before_loading_anything():
    out = run("-m", "index", "search", "离婚", "--date-from", "2025-13-45")
    assert out.returncode == 2 and "not a date" in out.stderr


@pytest.mark.parametrize("script,module", [("lawfaq", "index"), ("lawfaq-ingest", "ingest")])
def test_usage_names_the_program_as_it_was_invoked(script, module):
    """Issue 29 item 5: `lawfaq --help` says `usage: lawfaq`, `python -m index --help` says `python -m index`."""
    as_module = run("-m", module, "--help")
    assert as_module.returncode == 0 and as_module.stdout.startswith(f"usage: python -m {module} ")
    exe = Path(sys.executable).parent / script
    if not exe.exists():
        pytest.skip(f"the console script {script} is not installed")
    as_script = subprocess.run([str(exe), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert as_script.returncode == 0 and as_script.stdout.startswith(f"usage: {script} "), as_script.stdout[:80]


def test_inspect_of_an_empty_folder_says_nothing_was_found(tmp_path):
    out = run("-m", "ingest", "inspect", str(tmp_path))
    assert out.returncode == 1 and "nothing found" in out.stderr, (out.returncode, out.stderr)


def test_failed_first_build_says_no_index_was_built_and_leaves_no_folder(tmp_path):
    index = tmp_path / "new-index"
    out = run("-m", "index", "build", "--source", str(tmp_path / "corpsu"), "--index", str(index), "--no-progress")
    assert out.returncode == 1, out.stderr
    assert "no index was built" in out.stdout and "previous version" not in out.stdout + out.stderr, out.stderr
    assert not index.exists()


@pytest.mark.slow
def test_a_record_kept_without_a_field_is_a_warning_not_a_skipped_input(tmp_path):
    source = tmp_path / "export.jsonl"
    good = {"id": "a1", "title": "被公司辞退能拿多少补偿", "body": "公司违法解除劳动合同的，应当支付二倍经济补偿。",
            "category": "劳动纠纷", "published": "2024-13-45"}  # a bad date: the article is kept without it
    source.write_text(json.dumps(good, ensure_ascii=False) + "\n{not json\n", encoding="utf-8")
    out = run("-m", "index", "build", "--source", str(source), "--index", str(tmp_path / "idx"), "--no-progress")
    assert out.returncode == 0, out.stderr
    assert "skipped 1, 1 warnings" in out.stdout, out.stdout  # the broken line skipped, the bad date a warning
    assert "warning " in out.stderr and "skipped 1 inputs, 1 warnings" in out.stderr, out.stderr


def test_missing_index_hint_names_your_articles_folder_not_the_repos_corpus(tmp_path):
    out = run("-m", "index", "status", "--index", str(tmp_path / "none"))
    assert out.returncode == 1 and "--source <你的文章文件夹" in out.stderr and "--source corpus" not in out.stderr


def test_make_run_binds_localhost_unless_told():
    dry = subprocess.run(["make", "-n", "run", "INDEX=/nonexistent"], cwd=ROOT, capture_output=True, text=True)
    assert "--server.address 127.0.0.1" in dry.stdout
    lan = subprocess.run(["make", "-n", "run", "HOST=0.0.0.0"], cwd=ROOT, capture_output=True, text=True)
    assert "--server.address 0.0.0.0" in lan.stdout


def test_inspect_shows_each_articles_fields_and_where_each_passage_starts():
    out = run("-m", "ingest", "inspect", "tests/fixtures/corpus/cizhi-buchang.md")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("cizhi-buchang ")
    assert "category: 劳动纠纷" in lines[1] and "date: 20" in lines[1] and "url:" in lines[1]
    cards = [line for line in lines if line.startswith("      ")]
    assert len(cards) >= 2 and any("[-]" not in c for c in cards)  # headings shown, not the Markdown "##"
    assert not any("##" in c for c in cards)
