"""The documentation is tested: runnable snippets run, CLI commands parse, links resolve, and the
config reference matches the config dataclass.

Marker convention (docs/architecture.md, "Runnable documentation"): an HTML comment on the line
before a fence, invisible on GitHub:

- ``<!-- runnable -->`` before a ```python block: run as a script in a fresh process;
- ``<!-- runnable -->`` before a ```sh/```bash block: every command is parsed (``tracesft ...``
  by the CLI's own parser, without running it; ``make T``: the target exists; ``python FILE``:
  the file exists);
- ``<!-- runnable full -->`` before a ```sh block: every command runs and must exit 0;
- ``<!-- runnable file=NAME -->`` before any block: its text is written to NAME, for the blocks
  after it.

The blocks of one page run in order in one temporary directory that holds ``models/tiny/`` (a
tiny Qwen2-architecture model and its tokenizer, a Hugging Face directory), ``kept.jsonl``
(prompt/response/ground_truth traces of the demo task) and ``eval.jsonl`` (prompts and ground
truths).
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_MARKER = re.compile(r"^[ \t]*<!--\s*runnable\b(?P<opts>[^>]*?)\s*-->", re.M)
_FENCE = re.compile(r"(?P<fence>`{3,})(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.S | re.M)
_SHELL = {"sh", "bash", "shell", "console"}


@dataclass
class Block:
    page: Path
    line: int
    lang: str
    opts: str
    body: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def runnable_blocks(page: Path) -> list[Block]:
    """The marked blocks of a page, in order; a marker not followed by a fence is an error."""
    text = page.read_text(encoding="utf-8")
    blocks = []
    for m in _MARKER.finditer(text):
        rest = text[m.end():]
        gap = rest[: len(rest) - len(rest.lstrip(" \t\n"))]
        fence = _FENCE.match(rest, len(gap))
        if fence is None or gap.count("\n") > 1:
            line = text.count("\n", 0, m.start()) + 1
            raise AssertionError(f"{page.relative_to(ROOT)}:{line}: a runnable marker must be followed by a fence")
        line = text.count("\n", 0, m.end() + len(gap)) + 2  # the block's first line
        blocks.append(Block(page, line, fence["lang"], m["opts"].strip(), fence["body"]))
    return blocks


def shell_commands(body: str) -> list[list[str]]:
    """Commands of a shell block as argv lists: continuation lines joined, comments dropped."""
    commands = []
    for line in body.replace("\\\n", " ").splitlines():
        argv = shlex.split(line, comments=True)
        if argv:
            if any(op in argv for op in ("&&", "||", "|", ";", ">", "<")):
                raise AssertionError(f"{line!r}: runnable shell blocks hold plain commands, one per line")
            commands.append(argv)
    return commands


def _tracesft_argv(argv: list[str]) -> list[str] | None:
    """The tracesft arguments of a command line (tracesft ..., python -m tracesft ..., torchrun ... -m tracesft ...)."""
    if argv[0] == "tracesft":
        return argv[1:]
    for i in range(len(argv) - 1):
        if argv[i] == "-m" and argv[i + 1] == "tracesft":
            return argv[i + 2:]
    return None


def _make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([\w.-]+):(?!=)", text, re.M))


def check_command(argv: list[str], where: str) -> None:
    """Parse a documented command without running it."""
    from tracesft.cli import build_parser

    args = _tracesft_argv(argv)
    if args is not None:
        try:
            build_parser().parse_args(args)
        except SystemExit as e:
            if e.code:
                raise AssertionError(f"{where}: `{shlex.join(argv)}` does not parse (see the error above)") from None
        return
    if argv[0] == "make":
        targets = [a for a in argv[1:] if "=" not in a and not a.startswith("-")]
        missing = [t for t in targets if t not in _make_targets()]
        assert not missing, f"{where}: `{shlex.join(argv)}`: no make target {missing}"
        return
    if argv[0].startswith("python") or argv[0].endswith("/python"):
        script = next((a for a in argv[1:] if not a.startswith("-")), None)
        assert script and (ROOT / script).is_file(), f"{where}: `{shlex.join(argv)}`: {script} does not exist"
        return
    raise AssertionError(f"{where}: `{shlex.join(argv)}`: runnable commands are tracesft, make or python ones")


@pytest.fixture(scope="module")
def sandbox_template(tmp_path_factory):
    """models/tiny (tiny Qwen2 + BPE tokenizer), kept.jsonl, eval.jsonl: what runnable blocks may use."""
    from tracesft.data import write_jsonl
    from tracesft.demo.models import tiny_qwen2
    from tracesft.demo.task import DEMO_TEMPLATE, make_dataset
    from tracesft.demo.tokenizer import train_bpe_tokenizer

    root = tmp_path_factory.mktemp("docs-sandbox")
    train = make_dataset(64, seed=0, wrong_share=0.0, max_digits=2, word_problems=False)
    held_out = make_dataset(16, seed=1, wrong_share=0.0, max_digits=2, word_problems=False)
    write_jsonl(root / "kept.jsonl", [{k: r[k] for k in ("prompt", "response", "ground_truth")} for r in train])
    write_jsonl(root / "eval.jsonl", [{"prompt": r["prompt"], "ground_truth": r["ground_truth"]} for r in held_out])
    texts = [DEMO_TEMPLATE.replace("{question}", r["prompt"]) + r["response"] for r in train]
    tok = train_bpe_tokenizer(texts, vocab_size=300)
    model_dir = root / "models" / "tiny"
    tiny_qwen2(vocab_size=len(tok), max_position_embeddings=512).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    return root


def _pages_with(kinds) -> list[Path]:
    return [p for p in PAGES if any(kinds(b) for b in runnable_blocks(p))]


def _runs(block: Block) -> bool:
    return block.lang == "python" or block.opts == "full" or block.opts.startswith("file=")


def test_runnable_markers_are_well_formed():
    for page in PAGES:
        for block in runnable_blocks(page):
            assert block.opts in ("", "full") or re.fullmatch(r"file=[\w./-]+", block.opts), \
                f"{block.where}: unknown runnable option {block.opts!r} (none, full or file=NAME)"
            if block.opts == "" or block.opts == "full":
                assert block.lang == "python" or block.lang in _SHELL, \
                    f"{block.where}: a ```{block.lang} block can only be runnable as file=NAME"
            if block.lang in _SHELL:
                shell_commands(block.body)


def test_documented_commands_parse():
    """Every command of a runnable shell block parses (the full ones too: they run in the slow test)."""
    n = 0
    for page in PAGES:
        for block in runnable_blocks(page):
            if block.lang in _SHELL:
                for argv in shell_commands(block.body):
                    check_command(argv, block.where)
                    n += 1
    assert n > 0, "no runnable commands found: the marker convention changed?"


@pytest.mark.slow
@pytest.mark.parametrize("page", _pages_with(_runs), ids=lambda p: str(p.relative_to(ROOT)))
def test_runnable_blocks_run(page, sandbox_template, tmp_path, monkeypatch):
    """Python blocks run in a fresh process, full shell blocks run, file= blocks are written; in order."""
    from tracesft.cli import main

    work = tmp_path / "work"
    shutil.copytree(sandbox_template, work)
    monkeypatch.chdir(work)
    for block in runnable_blocks(page):
        if block.opts.startswith("file="):
            target = work / block.opts.removeprefix("file=")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.body, encoding="utf-8")
        elif block.lang == "python":
            script = work / f"block_{block.line}.py"
            script.write_text(block.body, encoding="utf-8")
            proc = subprocess.run([sys.executable, str(script)], cwd=work, capture_output=True, text=True,
                                  timeout=300)
            assert proc.returncode == 0, f"{block.where}: the python block failed:\n{proc.stdout}\n{proc.stderr}"
        elif block.opts == "full":
            for argv in shell_commands(block.body):
                args = _tracesft_argv(argv)
                assert args is not None, f"{block.where}: `{shlex.join(argv)}`: only tracesft commands run in full"
                assert main(args) == 0, f"{block.where}: `{shlex.join(argv)}` exited non-zero"


# --- links -------------------------------------------------------------------------------------

_CODE = re.compile(r"^(`{3,}).*?^\1[ \t]*$|`[^`\n]+`", re.S | re.M)
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = _CODE.sub(lambda m: "" if m.group(0).startswith("```") else m.group(0), page.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        slug = _slug(heading)
        n = seen.get(slug, 0)
        anchors.add(slug if n == 0 else f"{slug}-{n}")
        seen[slug] = n + 1
    return anchors


def test_relative_links_resolve():
    """Every relative link and image of README.md and docs/*.md names an existing file (and heading)."""
    broken = []
    for page in PAGES:
        text = _CODE.sub("", page.read_text(encoding="utf-8"))
        for target in _LINK.findall(text):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            path, _, fragment = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif fragment and resolved.suffix == ".md" and fragment not in _anchors(resolved):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_every_docs_page_is_in_the_index():
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    linked = {t.partition("#")[0] for t in _LINK.findall(index)}
    missing = [p.name for p in sorted((ROOT / "docs").glob("*.md")) if p.name != "index.md" and p.name not in linked]
    assert not missing, f"docs/index.md does not list {missing}"


# --- the config reference ------------------------------------------------------------------------

def _tool(name: str):
    """tools/NAME.py as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _config_reference():
    return _tool("config_reference")


def test_config_reference_is_current():
    text, new = _config_reference().TABLE.current()
    assert text == new, (
        "docs/training.md: the config reference differs from TrainConfig; "
        "regenerate it with: python tools/config_reference.py")


def test_config_reference_lists_every_key_with_a_description():
    from dataclasses import fields

    from tracesft.train.config import TrainConfig

    table = _config_reference().render()
    for f in fields(TrainConfig):
        row = next((r for r in table.splitlines() if r.startswith(f"| `{f.name}` |")), None)
        assert row is not None, f"{f.name} missing from the config reference"
        assert row.rstrip(" |").rsplit("|", 1)[1].strip(), f"{f.name} has an empty description"


def test_readme_lists_every_command():
    """The README's command table names every subcommand of the CLI."""
    import argparse

    from tracesft.cli import build_parser

    def commands(parser, prefix=()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    has_sub = any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)
                    yield from commands(sub, prefix + (name,)) if has_sub else [" ".join(prefix + (name,))]

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = list(commands(build_parser()))
    assert len(found) >= 9, found  # demo, data champ, data inspect, filter, model import, train, sweep, eval, plot
    missing = [c for c in found if f"`tracesft {c}" not in readme]
    assert not missing, f"README.md's command table lacks: {missing}"


def test_grading_rule_tables_are_current():
    text, new = _tool("grading_rules").TABLE.current()
    assert text == new, (
        "docs/grading.md: the rule tables differ from the code; regenerate them with: python tools/grading_rules.py")
