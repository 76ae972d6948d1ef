"""The commands the guides show, read out of their Markdown (and the jobs' docstrings).

``commands``: every ``python -m beam_jobs.<job> ...`` and ``segment-branch <command> ...``,
from code blocks (continuation lines joined) and inline code, as tokens.
``flex_template_parameters``: the ``--parameters=`` keys of each ``gcloud dataflow
flex-template run`` and the template's job. ``doc_test_blocks``: the fenced ``bash`` blocks
marked ``<!-- doc-test -->``, which tests/e2e/test_doc_commands.py runs.
"""

from __future__ import annotations

import ast
import re
import shlex
import textwrap
from dataclasses import dataclass
from pathlib import Path

from tests.support import REPO

FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>\w*)[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
DOC_TEST_MARK = re.compile(r"<!--\s*doc-test\b[^>]*-->\s*$")
INLINE_CODE = re.compile(r"`([^`]+)`")
CONTINUATION = re.compile(r"\\{1,2}\n[ \t]*")
# Where a command ends: a comment, a redirection or pipe, the next command, the end of inline code.
COMMAND_END = re.compile(r"\s#|[<>|;`\"]|&&")
COMMAND = re.compile(r"(?:^|(?<=[\s/]))(?P<cmd>python -m beam_jobs\.\w+|segment-branch [a-z][\w-]*(?: test)?)\b")
TEMPLATE = re.compile(r"templates/(?P<job>\w+)-\$TAG\.json")


@dataclass(frozen=True)
class Command:
    source: str  # file:line, for the failure message
    program: str  # "beam_jobs.<job>" or "segment-branch <command>"
    tokens: tuple[str, ...]
    complete: bool  # shown as something to run as is: must carry every flag it needs

    @property
    def flags(self) -> list[str]:
        return [token.split("=", 1)[0] for token in self.tokens if token.startswith("--")]


def _name(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _tokens(text: str) -> tuple[str, ...]:
    text = text.replace("[", " ").replace("]", " ")
    try:
        return tuple(shlex.split(text))
    except ValueError:  # an unbalanced quote in prose
        return tuple(text.split())


def _commands_in(text: str, source: str, *, in_block: bool) -> list[Command]:
    found = []
    for match in COMMAND.finditer(text):
        rest = text[match.end() :]
        end = COMMAND_END.search(rest)
        args = _tokens(rest[: end.start()] if end else rest)
        program = match["cmd"].removeprefix("python -m ")
        # Shown to run: in a code block, or inline with its flags; not shortened, not --help.
        shown_to_run = in_block or any(arg.startswith("--") for arg in args)
        complete = shown_to_run and not {"...", "…", "--help"} & set(args)
        found.append(Command(source, program, args, complete))
    return found


def _blocks(text: str) -> list[tuple[int, str, str]]:
    """(offset, language, body with continuation lines joined) of each fenced block."""
    return [(m.start(), m["lang"], CONTINUATION.sub(" ", textwrap.dedent(m["body"]))) for m in FENCE.finditer(text)]


def commands(path: Path) -> list[Command]:
    """The commands a guide (Markdown) or a job module's docstring shows."""
    text = path.read_text()
    name = _name(path)
    if path.suffix == ".py":
        body = CONTINUATION.sub(" ", ast.get_docstring(ast.parse(text)) or "")
        return [c for line in body.splitlines() for c in _commands_in(line, f"{name} docstring", in_block=True)]
    found = []
    for offset, _, body in _blocks(text):
        for line in body.splitlines():
            found += _commands_in(line, f"{name}:{_line(text, offset)}", in_block=True)
    prose = FENCE.sub(lambda m: "\n" * m[0].count("\n"), text)
    for span in INLINE_CODE.finditer(prose):
        found += _commands_in(" ".join(span[1].split()), f"{name}:{_line(prose, span.start())}", in_block=False)
    return found


def flex_template_parameters(path: Path) -> list[tuple[str, str, list[str]]]:
    """(file:line, job, parameter names) of each ``gcloud dataflow flex-template run`` shown."""
    text = path.read_text()
    found = []
    for offset, _, body in _blocks(text):
        for line in body.splitlines():
            template = TEMPLATE.search(line)
            if "flex-template run" not in line or template is None:
                continue
            names = []
            for value in re.findall(r"--parameters=(\S+)", line):
                names += re.findall(r"(?:^|,)(\w+)=", value)
            found.append((f"{_name(path)}:{_line(text, offset)}", template["job"], names))
    return found


def doc_test_blocks(path: Path) -> list[tuple[str, str]]:
    """(file:line, script) of each fenced bash block right after a ``<!-- doc-test -->`` line."""
    text = path.read_text()
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        if match["lang"] == "bash" and DOC_TEST_MARK.search(before):
            found.append((f"{_name(path)}:{_line(text, match.start())}", textwrap.dedent(match["body"])))
    return found
