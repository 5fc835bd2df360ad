"""Translate a Go text/template, as sealos cluster images write them, into a jinja2 template.

sealos renders `*.tmpl` files with Go's text/template and sprig. Rather than write a template engine, we translate the
Go syntax into jinja2 source and let jinja2 evaluate it: `if`/`else if`/`else`/`end` become jinja blocks, `and`/`or`/
`not` become jinja's short-circuit operators (Go's are short-circuit too since 1.18), every other function call becomes
a call to the matching Go-compatible implementation in `sprig.py`, and `{{-`/`-}}` trimming is applied to the literal
text while translating, exactly as Go's lexer applies it.

No byte of the template's literal text, nor any string literal in an action, is ever parsed by jinja2: they travel as
indexed constants (`_text[3]`, `_const[0]`), so a file that happens to contain `{%` or `{#` renders unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .sprig import FUNCTIONS

__all__ = ["GoTemplateError", "Translation", "translate"]

_SPACE = " \t\r\n"
_KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}
_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\n]+)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\\n]|\\.)+')
  | (?P<number>[+-]?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d+)?))
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
  | (?P<dot>\.)
  | (?P<variable>\$[A-Za-z0-9_]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<declare>:=|=)
  | (?P<punct>[()|,])
    """,
    re.X | re.S,
)
_GO_ESCAPE = re.compile(r"\\(?:([abfnrtv\\'\"])|x([0-9a-fA-F]{2})|([0-7]{3})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))")
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"'}


class GoTemplateError(ValueError):
    """A template that Go would refuse, or that uses a construct this translator does not support."""

    def __init__(self, name: str, line: int, message: str) -> None:
        super().__init__(f"{name}:{line}: {message}")
        self.name = name
        self.line = line
        self.message = message


@dataclass
class Translation:
    """jinja2 source plus the literal text and constants it refers to by index."""

    source: str
    texts: list[str] = field(default_factory=list)
    consts: list[Any] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)


@dataclass
class _Action:
    inner: str
    line: int
    comment: bool


def _go_unquote(literal: str) -> str:
    if literal.startswith("`"):
        return literal[1:-1].replace("\r", "")

    def escape(m: re.Match[str]) -> str:
        simple, hex2, octal, u4, u8 = m.groups()
        if simple:
            return _SIMPLE[simple]
        return chr(int(hex2 or u4 or u8, 16) if not octal else int(octal, 8))

    body = literal[1:-1]
    if re.search(r"\\(?![abfnrtv\\'\"]|x[0-9a-fA-F]{2}|[0-7]{3}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})", body):
        raise ValueError(f"invalid escape in string {literal}")
    return _GO_ESCAPE.sub(escape, body)


def _split(text: str, name: str) -> list[str | _Action]:
    """Cut the template into literal text and actions, applying trim markers to the text around them."""
    parts: list[str | _Action] = []
    pos = 0
    trim_next = False
    while True:
        start = text.find("{{", pos)
        chunk = text[pos:] if start < 0 else text[pos:start]
        if trim_next:
            chunk = chunk.lstrip(_SPACE)
        if start < 0:
            parts.append(chunk)
            return parts
        line = text.count("\n", 0, start) + 1
        i = start + 2
        if text.startswith("-", i) and i + 1 < len(text) and text[i + 1] in _SPACE:
            chunk = chunk.rstrip(_SPACE)
            i += 2
        parts.append(chunk)
        body_start = i
        if text.startswith("/*", i):
            # Go takes a comment only right after the delimiter or its trim marker: `{{/*` or `{{- /*`.
            end = text.find("*/", i + 2)
            if end < 0:
                raise GoTemplateError(name, line, "unclosed comment")
            j = end + 2
            trim_next = False
            if j < len(text) and text[j] in _SPACE and text.startswith("-}}", j + 1):
                trim_next = True
                j += 4
            elif text.startswith("}}", j):
                j += 2
            else:
                raise GoTemplateError(name, line, "comment ends before closing delimiter")
            parts.append(_Action("", line, comment=True))
            pos = j
            continue
        j = body_start
        while True:
            if j >= len(text):
                raise GoTemplateError(name, line, "unclosed action: no closing }}")
            ch = text[j]
            if ch in "\"`'":
                m = _TOKEN.match(text, j)
                if not m or m.lastgroup not in ("string", "raw", "char"):
                    raise GoTemplateError(name, line, "unterminated quoted string in action")
                j = m.end()
                continue
            if text.startswith("}}", j):
                break
            j += 1
        inner = text[body_start:j]
        trim_next = False
        if len(inner) >= 2 and inner.endswith("-") and inner[-2] in _SPACE:
            trim_next = True
            inner = inner[:-1]
        parts.append(_Action(inner, line, comment=False))
        pos = j + 2


class _Translator:
    def __init__(self, name: str) -> None:
        self.name = name
        self.out = Translation(source="")
        self.line = 0

    def error(self, message: str) -> GoTemplateError:
        return GoTemplateError(self.name, self.line, message)

    def const(self, value: Any) -> str:
        self.out.consts.append(value)
        return f"_const[{len(self.out.consts) - 1}]"

    # -- tokens ----------------------------------------------------------------------------------------------------

    def tokens(self, inner: str) -> list[tuple[str, str, int]]:
        toks: list[tuple[str, str, int]] = []
        pos, line = 0, self.line
        while pos < len(inner):
            m = _TOKEN.match(inner, pos)
            if not m:
                raise self.error(f"unexpected {inner[pos]!r} in action {{{{{inner.strip()}}}}}")
            kind = m.lastgroup or ""
            if kind != "space":
                toks.append((kind, m.group(0), line))
            line += m.group(0).count("\n")
            pos = m.end()
        return toks

    # -- expressions ------------------------------------------------------------------------------------------------

    def pipeline(self, toks: list[tuple[str, str, int]]) -> str:
        """Translate `cmd | cmd ...` where each later command gets the previous value as its last argument."""
        commands: list[list[tuple[str, str, int]]] = [[]]
        depth = 0
        for tok in toks:
            if tok[1] == "(":
                depth += 1
            elif tok[1] == ")":
                depth -= 1
                if depth < 0:
                    raise self.error("unexpected ')'")
            if tok == ("punct", "|", tok[2]) and depth == 0:
                commands.append([])
            else:
                commands[-1].append(tok)
        if depth:
            raise self.error("unclosed '('")
        if any(tok[0] == "declare" for cmd in commands for tok in cmd):
            raise self.error("variable declarations ($x := ...) are not supported; use the env keys directly")
        value: str | None = None
        for index, cmd in enumerate(commands):
            if not cmd:
                raise self.error("missing value for command" if index == 0 else "empty command after '|'")
            value = self.command(cmd, value, first=index == 0)
        assert value is not None
        return value

    def command(self, cmd: list[tuple[str, str, int]], piped: str | None, first: bool) -> str:
        terms = self.terms(cmd)
        head_kind, head = terms[0]
        args = [expr for _, expr in terms[1:]]
        if piped is not None:
            args.append(piped)
        if head_kind == "func":
            return self.call(head, args)
        if args:
            if not first:
                raise self.error("a command after '|' must be a function")
            raise self.error("can't give an argument to a non-function")
        return head

    def call(self, name: str, args: list[str]) -> str:
        if name in ("and", "or"):
            if not args:
                raise self.error(f"{name} needs at least one argument")
            return "(" + f" {name} ".join(args) + ")"
        if name == "not":
            if len(args) != 1:
                raise self.error("not takes exactly one argument")
            return f"(not {args[0]})"
        return f"_call({self.line}, '{name}'{''.join(', ' + a for a in args)})"

    def terms(self, cmd: list[tuple[str, str, int]]) -> list[tuple[str, str]]:
        """Operands of one command: ("func", name) for a function, ("value", jinja expression) otherwise."""
        out: list[tuple[str, str]] = []
        i = 0
        while i < len(cmd):
            kind, text, line = cmd[i]
            self.line = line
            if text == "(":
                depth, j = 1, i + 1
                while j < len(cmd) and depth:
                    depth += {"(": 1, ")": -1}.get(cmd[j][1], 0)
                    j += 1
                inner = cmd[i + 1 : j - 1]
                if not inner:
                    raise self.error("empty parenthesised pipeline")
                out.append(("value", "(" + self.pipeline(inner) + ")"))
                i = j
                continue
            if kind == "field":
                keys = text[1:].split(".")
                if len(keys) > 1:
                    raise self.error(f"{text}: the env is flat (keys hold strings), nested fields don't exist")
                self.out.keys.add(keys[0])
                out.append(("value", f"_v({self.const(keys[0])}, {line})"))
            elif kind in ("string", "raw"):
                try:
                    out.append(("value", self.const(_go_unquote(text))))
                except ValueError as exc:
                    raise self.error(str(exc)) from None
            elif kind == "number":
                clean = text.replace("_", "")
                value: Any = int(clean, 0) if re.fullmatch(r"[+-]?(0[xX][0-9a-fA-F]+|\d+)", clean) else float(clean)
                out.append(("value", self.const(value)))
            elif kind == "ident":
                if text in ("true", "false"):
                    out.append(("value", self.const(text == "true")))
                elif text == "nil":
                    out.append(("value", self.const(None)))
                elif text in _KEYWORDS:
                    raise self.error(f"unexpected keyword {text!r} inside an expression")
                elif text in ("and", "or", "not") or text in FUNCTIONS:
                    if i != 0:
                        raise self.error(f"function {text!r} used as an argument: wrap the call in parentheses")
                    out.append(("func", text))
                else:
                    raise self.error(
                        f"function {text!r} is not supported; supported: and, or, not, {', '.join(sorted(FUNCTIONS))}"
                    )
            elif kind == "dot":
                raise self.error("'.' (the whole env) is not supported; refer to a key such as .registryDomain")
            elif kind == "variable":
                raise self.error(f"template variables ({text}) are not supported; use the env keys directly")
            elif kind == "char":
                raise self.error("character constants are not supported; use a string")
            else:
                raise self.error(f"unexpected {text!r}")
            i += 1
        return out

    # -- statements -------------------------------------------------------------------------------------------------

    def run(self, text: str) -> Translation:
        parts = _split(text, self.name)
        src: list[str] = []
        stack: list[tuple[str, int]] = []  # open blocks: ("if", line) / ("else", line)
        for part in parts:
            if isinstance(part, str):
                if part:
                    self.out.texts.append(part)
                    src.append(f"{{{{ _text[{len(self.out.texts) - 1}] }}}}")
                continue
            if part.comment:
                continue
            self.line = part.line
            toks = self.tokens(part.inner)
            if not toks:
                raise self.error("missing value for command")
            word = toks[0][1] if toks[0][0] == "ident" else ""
            if word == "if":
                if len(toks) == 1:
                    raise self.error("missing value for if")
                src.append(f"{{% if {self.pipeline(toks[1:])} %}}")
                stack.append(("if", part.line))
            elif word == "else":
                if not stack or stack[-1][0] != "if":
                    raise self.error("unexpected {{else}}" if not stack else "{{else}} after {{else}}")
                if len(toks) == 1:
                    src.append("{% else %}")
                    stack[-1] = ("else", part.line)
                elif toks[1] == ("ident", "if", toks[1][2]):
                    if len(toks) == 2:
                        raise self.error("missing value for else if")
                    src.append(f"{{% elif {self.pipeline(toks[2:])} %}}")
                else:
                    raise self.error(f"{{{{else {toks[1][1]}}}}} is not supported; only else and else if")
            elif word == "end":
                if len(toks) != 1:
                    raise self.error("unexpected text after end")
                if not stack:
                    raise self.error("unexpected {{end}}")
                stack.pop()
                src.append("{% endif %}")
            elif word in _KEYWORDS:
                raise self.error(f"{{{{{word}}}}} is not supported; sealos rootfs templates use if/else/end only")
            else:
                src.append(f"{{{{ _p({self.pipeline(toks)}) }}}}")
        if stack:
            self.line = stack[-1][1]
            raise self.error("unexpected EOF: this {{if}} has no {{end}}")
        self.out.source = "".join(src)
        return self.out


def translate(text: str, name: str = "template") -> Translation:
    """Translate Go template text into jinja2 source (see the module docstring); errors name `name:line`."""
    return _Translator(name).run(text)
