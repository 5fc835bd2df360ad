"""The Kubefile of a cluster image: a Dockerfile whose labels name the lifecycle hooks and whose ENV holds the defaults.

sealos builds a Kubefile with buildah's Dockerfile builder, so the rules here are Dockerfile rules: `\\` continues a
line, `#` starts a comment line, LABEL and ENV take several `k=v` pairs with shell-like quoting, and `$x`/`${x}` in
their values is substituted at build time from the ENV/ARG seen so far, unless escaped as `\\$x`. That escape is why
hook labels such as `check="check.sh \\$registryData"` keep a literal `$registryData`, which the host's bash expands
later from the exported env. We model the stored result, not the build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Instruction", "Kubefile", "KubefileError", "parse_kubefile", "REQUIRED_HOOKS", "OPTIONAL_HOOKS"]

#: Hooks sealos always runs; a missing label falls back to `bash <name>.sh` (sealos `pkg/constants/bash.go`).
REQUIRED_HOOKS = ("check", "init", "clean", "init-registry", "clean-registry")
#: Hooks that run only when their label is present (`auth` is the v4.0/4.1 legacy login hook).
OPTIONAL_HOOKS = ("init-cri", "clean-cri", "auth")

_KNOWN = {"FROM", "MAINTAINER", "LABEL", "ENV", "COPY", "ADD", "CMD", "ENTRYPOINT", "ARG", "RUN", "WORKDIR", "USER"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONTINUATION = re.compile(r"\\[ \t]*$")


class KubefileError(ValueError):
    """A Kubefile that cannot be read; the message starts with `source:line`."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}:{line}: {message}")
        self.source = source
        self.line = line


@dataclass(frozen=True)
class Instruction:
    """One logical instruction (continuations joined): the upper-cased keyword, its raw argument text, first line."""

    keyword: str
    args: str
    line: int


@dataclass
class Kubefile:
    """The parsed Kubefile: labels and env as the built image would store them, in file order."""

    labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    instructions: list[Instruction] = field(default_factory=list)
    source: str = "Kubefile"

    @property
    def version(self) -> str | None:
        """The `version` label: the Kubernetes version sealos exposes as SEALOS_SYS_KUBE_VERSION."""
        return self.labels.get("version")

    def hook(self, name: str) -> str | None:
        """The command sealos would run for hook `name`: `bash <label>` when labelled, else `bash <name>.sh` for the
        required hooks and None for the optional ones (so callers skip them)."""
        if name not in REQUIRED_HOOKS and name not in OPTIONAL_HOOKS:
            raise ValueError(f"unknown hook {name!r}: expected one of {', '.join(REQUIRED_HOOKS + OPTIONAL_HOOKS)}")
        value = self.labels.get(name)
        if value is not None and value.strip():
            return f"bash {value}"
        if name in REQUIRED_HOOKS:
            return f"bash {name}.sh"
        return None


def _logical_lines(text: str, source: str) -> list[tuple[int, str]]:
    """Join `\\`-continued lines and drop comment and blank lines, keeping the first line number of each."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    lines = text.splitlines()
    for number, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if stripped.startswith("#"):
            # A comment line ends nothing: inside a continuation Docker skips it too.
            continue
        if not pending:
            if not stripped:
                continue
            start = number
        elif not stripped:
            # An empty line inside a continuation is skipped by Docker (with a warning).
            continue
        continued = _CONTINUATION.search(raw)
        if continued:
            # Docker removes the backslash and joins the next line as is (its indentation separates the words).
            pending.append(raw[: continued.start()])
            continue
        pending.append(raw)
        out.append((start, "".join(pending).strip()))
        pending = []
    if pending:
        raise KubefileError(source, start, "the file ends inside a `\\` line continuation")
    return out


class _Words:
    """Dockerfile word processing for LABEL/ENV values: quotes group, `\\` escapes, `$x` substitutes."""

    def __init__(self, source: str, line: int, variables: dict[str, str]) -> None:
        self.source = source
        self.line = line
        self.variables = variables

    def error(self, message: str) -> KubefileError:
        return KubefileError(self.source, self.line, message)

    def split(self, text: str) -> list[str]:
        """Split `text` into words at unquoted whitespace, with quotes removed and variables substituted."""
        words: list[str] = []
        i, n = 0, len(text)
        while i < n:
            while i < n and text[i] in " \t":
                i += 1
            if i >= n:
                break
            word, i = self.word(text, i)
            words.append(word)
        return words

    def word(self, text: str, i: int) -> tuple[str, int]:
        """One word starting at `i`: returns its processed text and the index after it."""
        out: list[str] = []
        n = len(text)
        while i < n and text[i] not in " \t":
            ch = text[i]
            if ch == "\\":
                if i + 1 < n:
                    out.append(text[i + 1])
                    i += 2
                else:
                    i += 1
            elif ch == "'":
                end = text.find("'", i + 1)
                if end < 0:
                    raise self.error("unterminated single quote")
                out.append(text[i + 1 : end])
                i = end + 1
            elif ch == '"':
                i = self._double(text, i + 1, out)
            elif ch == "$":
                value, i = self._variable(text, i)
                out.append(value)
            else:
                out.append(ch)
                i += 1
        return "".join(out), i

    def _double(self, text: str, i: int, out: list[str]) -> int:
        n = len(text)
        while i < n:
            ch = text[i]
            if ch == '"':
                return i + 1
            if ch == "\\" and i + 1 < n and text[i + 1] in '"$\\':
                out.append(text[i + 1])
                i += 2
            elif ch == "$":
                value, i = self._variable(text, i)
                out.append(value)
            else:
                out.append(ch)
                i += 1
        raise self.error("unterminated double quote")

    def _variable(self, text: str, i: int) -> tuple[str, int]:
        """Substitute `$name`, `${name}`, `${name:-word}` or `${name:+word}` as Docker's builder does."""
        if i + 1 < len(text) and text[i + 1] == "{":
            end = text.find("}", i + 2)
            if end < 0:
                raise self.error("unterminated ${...} substitution (write \\$ for a literal dollar)")
            inner = text[i + 2 : end]
            m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?::([-+])(.*))?", inner, re.S)
            if not m:
                raise self.error(f"bad substitution ${{{inner}}}")
            name, op, word = m.group(1), m.group(2), m.group(3) or ""
            value = self.variables.get(name, "")
            if op == "-":
                value = value or word
            elif op == "+":
                value = word if value else ""
            return value, end + 1
        m = _NAME.match(text, i + 1)
        if not m:
            return "$", i + 1
        return self.variables.get(m.group(0), ""), m.end()


def _pairs(keyword: str, args: str, words: _Words, legacy_ok: bool) -> list[tuple[str, str]]:
    raw = words.split(args)
    if not raw:
        raise words.error(f"{keyword} needs at least one key=value pair")
    if "=" not in raw[0]:
        if not legacy_ok:
            raise words.error(f"{keyword} {raw[0]!r} has no '=': write {keyword} key=value")
        # Legacy `ENV key value...`: everything after the key is the value, whitespace kept as written.
        key = raw[0]
        rest = args.strip()[len(args.strip().split(None, 1)[0]) :].strip()
        if not rest:
            raise words.error(f"{keyword} {key} has no value: write {keyword} {key}=value")
        return [(key, _rest_value(rest, words))]
    out = []
    for word in raw:
        key, sep, value = word.partition("=")
        if not sep:
            raise words.error(f"{keyword} {word!r} has no '=': every item must be key=value")
        if not key:
            raise words.error(f"{keyword} item {word!r} has an empty key")
        out.append((key, value))
    return out


def _rest_value(rest: str, words: _Words) -> str:
    """The value of a legacy `ENV key value` line: quotes and escapes processed, inner whitespace kept."""
    out: list[str] = []
    i, n = 0, len(rest)
    while i < n:
        if rest[i] in " \t":
            out.append(rest[i])
            i += 1
            continue
        word, i = words.word(rest, i)
        out.append(word)
    return "".join(out)


def parse_kubefile(text: str, source: str = "Kubefile") -> Kubefile:
    """Parse Kubefile text into labels, env and instructions; errors name `source:line` and say what to write."""
    kubefile = Kubefile(source=source)
    variables: dict[str, str] = {}
    seen_from = False
    for line, content in _logical_lines(text, source):
        keyword, _, args = content.strip().partition(" ")
        keyword = keyword.upper()
        args = args.strip()
        if keyword not in _KNOWN:
            raise KubefileError(source, line, f"unknown instruction {keyword!r}")
        if keyword != "ARG" and not seen_from and keyword != "FROM":
            raise KubefileError(source, line, f"{keyword} before FROM: the first instruction must be FROM")
        if keyword in ("FROM", "MAINTAINER", "COPY", "ADD", "CMD", "ENTRYPOINT") and not args:
            raise KubefileError(source, line, f"{keyword} needs an argument")
        kubefile.instructions.append(Instruction(keyword, args, line))
        words = _Words(source, line, variables)
        if keyword == "FROM":
            seen_from = True
        elif keyword == "LABEL":
            for key, value in _pairs("LABEL", args, words, legacy_ok=False):
                kubefile.labels[key] = value
        elif keyword == "ENV":
            for key, value in _pairs("ENV", args, words, legacy_ok=True):
                if not _NAME.fullmatch(key):
                    raise KubefileError(source, line, f"ENV key {key!r} is not a valid variable name")
                kubefile.env[key] = value
                variables[key] = value
        elif keyword == "ARG":
            for word in words.split(args):
                name, sep, default = word.partition("=")
                if not _NAME.fullmatch(name):
                    raise KubefileError(source, line, f"ARG name {name!r} is not a valid variable name")
                if name not in kubefile.env:
                    variables[name] = default if sep else variables.get(name, "")
    if not seen_from:
        raise KubefileError(source, 1, "no FROM instruction: a Kubefile starts with FROM (e.g. FROM scratch)")
    return kubefile
