"""The subset of Go's template builtins and sprig functions that rootfs templates use, with Go's exact output.

Values flowing through a translated template are Python str/bool/int/float/None, or `Missing` for an env key that is
not set. Go prints an unset key as `<no value>` and most functions turn it into an empty string; here only the
functions that *test* a value (default, empty, coalesce, ternary's condition, eq/ne, and/or/not/if) accept it, and
every other use raises `MissingKeyUse`, which the renderer turns into an error naming the file, line and key: a
config file with an empty password or `<no value>` in it is a bug to report, not to ship.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

import yaml

__all__ = ["FUNCTIONS", "Missing", "MissingKeyUse", "TemplateFuncError", "go_print", "go_quote", "semver_compare"]


class Missing:
    """An env key the template referenced but the env does not hold: falsy, like Go's missing map value."""

    __slots__ = ("key", "line")

    def __init__(self, key: str, line: int) -> None:
        self.key = key
        self.line = line

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Missing({self.key!r})"


class MissingKeyUse(Exception):
    """A Missing value reached a place that needs a real one (printed, quoted, compared as a version...)."""

    def __init__(self, missing: Missing, usage: str) -> None:
        super().__init__(missing.key)
        self.missing = missing
        self.usage = usage


class TemplateFuncError(Exception):
    """A function failed as it would in Go (e.g. semverCompare on a string that is not a version)."""


def _need(value: Any, usage: str) -> Any:
    if isinstance(value, Missing):
        raise MissingKeyUse(value, usage)
    return value


def go_print(value: Any) -> str:
    """What Go's text/template prints for a value (fmt's %v for the kinds a flat string env produces)."""
    value = _need(value, "printed")
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else f"{value:g}" if abs(value) >= 1e21 else str(int(value))
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_print(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_print(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _strval(value: Any, usage: str) -> str:
    return go_print(_need(value, usage))


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
            "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """Go's strconv.Quote (fmt %q): a double-quoted string with Go escapes, printable Unicode kept as is. Its
    escapes are also valid in YAML double-quoted scalars, so the project's YAML templates parse back exactly."""
    out = ['"']
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch == " " or ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


_JSON_GO = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(value: Any) -> str:
    """Go's json.Marshal output: compact, HTML-safe escapes of < > & (raw only inside strings, so a plain
    replacement is safe), U+2028/U+2029 escaped, other non-ASCII kept as UTF-8."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_GO[m.group(0)], text)


def go_yaml(value: Any) -> str:
    """YAML for a value, without the trailing newline (sealos's toYaml trims it, as helm's does). The bytes may
    differ from go-yaml's choice of style; the parsed value is the same."""
    text = yaml.safe_dump(value, default_flow_style=False, allow_unicode=True, sort_keys=True, width=1 << 30)
    if text.endswith("\n...\n"):
        text = text[: -len("...\n")]
    return text.rstrip("\n")


# -- sprig: defaults and tests ----------------------------------------------------------------------------------------


def _empty(value: Any) -> bool:
    if isinstance(value, Missing) or value is None:
        return True
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value == 0
    if isinstance(value, (str, list, tuple, dict)):
        return len(value) == 0
    return False


def _default(default: Any, *given: Any) -> Any:
    if not given or _empty(given[0]):
        return default
    return given[0]


def _coalesce(*values: Any) -> Any:
    for value in values:
        if not _empty(value):
            return value
    return None


def _ternary(yes: Any, no: Any, condition: Any) -> Any:
    return yes if condition else no


def _basic_eq(a: Any, b: Any) -> bool:
    if isinstance(a, Missing) or isinstance(b, Missing) or a is None or b is None:
        return (isinstance(a, Missing) or a is None) and (isinstance(b, Missing) or b is None)
    numeric = (int, float)
    if isinstance(a, bool) != isinstance(b, bool) or (
        not isinstance(a, bool) and isinstance(a, numeric) != isinstance(b, numeric)
    ):
        raise TemplateFuncError(f"incompatible types for comparison: {a!r} and {b!r}")
    return bool(a == b)


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise TemplateFuncError("eq needs at least two arguments")
    return any(_basic_eq(a, b) for b in others)


def _ne(a: Any, b: Any) -> bool:
    return not _basic_eq(a, b)


def _ordered(name: str, op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        a, b = _need(a, f"compared by {name}"), _need(b, f"compared by {name}")
        if isinstance(a, str) != isinstance(b, str):
            raise TemplateFuncError(f"incompatible types for comparison: {a!r} and {b!r}")
        return op(a, b)

    return compare


# -- sprig: strings --------------------------------------------------------------------------------------------------


def _quote(*values: Any) -> str:
    return " ".join(go_quote(_strval(v, "quoted")) for v in values if v is not None)


def _squote(*values: Any) -> str:
    return " ".join("'" + _strval(v, "quoted") + "'" for v in values if v is not None)


def _to_json(value: Any) -> str:
    return go_json(_need(value, "passed to toJson"))


def _to_yaml(value: Any) -> str:
    return go_yaml(_need(value, "passed to toYaml"))


def _str_fn(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        return fn(*(_strval(a, f"passed to {name}") for a in args))

    call.__name__ = name
    return call


_VERB = re.compile(r"%([-+# 0]*)(\d*)(?:\.(\d+))?([a-zA-Z%])")


def _printf(fmt: Any, *args: Any) -> str:
    """Go's fmt.Sprintf for the verbs templates use (%s %v %d %q %%, with width and `-`). Go writes `%!s(MISSING)`
    into the output for a missing argument; we refuse instead, as that text would end up in a config file."""
    fmt = _strval(fmt, "passed to printf")
    values = list(args)
    out: list[str] = []
    pos = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, _precision, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        if not values:
            raise TemplateFuncError(f"printf {fmt!r}: not enough arguments for %{verb}")
        value = _need(values.pop(0), "passed to printf")
        if verb in ("s", "v"):
            text = go_print(value)
        elif verb == "q":
            text = go_quote(go_print(value))
        elif verb == "d" and isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        else:
            raise TemplateFuncError(f"printf {fmt!r}: %{verb} is not supported for {value!r}; use %s")
        if width:
            text = text.ljust(int(width)) if "-" in flags else text.rjust(int(width))
        out.append(text)
    out.append(fmt[pos:])
    if values:
        raise TemplateFuncError(f"printf {fmt!r}: {len(values)} argument(s) left over")
    return "".join(out)


def _print(*args: Any) -> str:
    """Go's fmt.Sprint: operands joined, with a space only between two operands that are both not strings."""
    out: list[str] = []
    for i, value in enumerate(args):
        value = _need(value, "passed to print")
        if i and not isinstance(value, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_print(value))
    return "".join(out)


# -- semver (Masterminds/semver v3 constraint rules, the ones sprig's semverCompare uses) ---------------------------

_VERSION = re.compile(
    r"v?(?P<major>0|[1-9]\d*)(?:\.(?P<minor>0|[1-9]\d*))?(?:\.(?P<patch>0|[1-9]\d*))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+(?P<meta>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
_CONSTRAINT = re.compile(r"\s*(?P<op>\^|~>|~|>=|=>|<=|=<|>|<|!=|=)?\s*(?P<ver>v?[0-9xX*][0-9A-Za-z.+*-]*)\s*")


class _Version:
    """A parsed version: numbers, prerelease identifiers; ordering by semver 2.0 precedence."""

    def __init__(self, major: int, minor: int, patch: int, pre: str = "") -> None:
        self.nums = (major, minor, patch)
        self.pre = pre

    @classmethod
    def parse(cls, text: str) -> "_Version":
        m = _VERSION.fullmatch(text.strip())
        if not m:
            raise TemplateFuncError("Invalid Semantic Version")
        return cls(int(m["major"]), int(m["minor"] or 0), int(m["patch"] or 0), m["pre"] or "")

    def _pre_key(self) -> tuple:
        if not self.pre:
            return (1,)
        parts = []
        for ident in self.pre.split("."):
            parts.append((0, int(ident), "") if ident.isdigit() else (1, 0, ident))
        return (0, tuple(parts))

    def key(self) -> tuple:
        return (self.nums, self._pre_key())


def _cmp(a: _Version, b: _Version) -> int:
    ka, kb = a.key(), b.key()
    return (ka > kb) - (ka < kb)


def _partial(text: str) -> tuple[list[int | None], str]:
    """Split a constraint version into numbers, where a missing part or x/X/* is None (a wildcard)."""
    body, _, _meta = text.lstrip("v").partition("+")
    nums_text, _, pre = body.partition("-")
    parts = nums_text.split(".")
    if len(parts) > 3 or not parts[0]:
        raise TemplateFuncError(f"improper constraint: {text}")
    nums: list[int | None] = []
    for part in parts:
        if part in ("x", "X", "*"):
            nums.append(None)
        elif part.isdigit():
            nums.append(int(part))
        else:
            raise TemplateFuncError(f"improper constraint: {text}")
    while len(nums) < 3:
        nums.append(None)
    # Once a part is a wildcard, the rest are too (1.x.3 means 1.x).
    for i in range(3):
        if nums[i] is None:
            nums[i + 1 :] = [None] * (2 - i)
            break
    return nums, pre


def _check_one(op: str, ver: str, v: _Version) -> bool:
    nums, pre = _partial(ver)
    if op == "!=":
        # Masterminds' != skips the prerelease rule below: a prerelease differs from every plain version.
        if v.pre:
            return not (v.nums == tuple(n or 0 for n in nums) and v.pre == pre)
        return not _check_one("=", ver, v)
    if v.pre and not pre:
        return False  # prereleases only match constraints that name a prerelease (Masterminds v3)
    if v.pre and pre and v.nums != tuple(n or 0 for n in nums):
        return False
    base = _Version(*(n or 0 for n in nums), pre=pre)
    wild = [n is None for n in nums]

    def upper(index: int) -> _Version:
        bumped = [n or 0 for n in nums]
        bumped[index] += 1
        for j in range(index + 1, 3):
            bumped[j] = 0
        return _Version(*bumped)

    if op in ("", "="):
        if wild[0]:
            return True
        if wild[1]:
            return _cmp(v, base) >= 0 and _cmp(v, upper(0)) < 0
        if wild[2]:
            return _cmp(v, base) >= 0 and _cmp(v, upper(1)) < 0
        return _cmp(v, base) == 0
    if op == ">":
        if wild[0]:
            return False
        if wild[1]:
            return _cmp(v, upper(0)) >= 0
        if wild[2]:
            return _cmp(v, upper(1)) >= 0
        return _cmp(v, base) > 0
    if op in (">=", "=>"):
        return _cmp(v, base) >= 0
    if op == "<":
        return _cmp(v, base) < 0 and not wild[0]
    if op in ("<=", "=<"):
        if wild[0]:
            return True
        if wild[1]:
            return _cmp(v, upper(0)) < 0
        if wild[2]:
            return _cmp(v, upper(1)) < 0
        return _cmp(v, base) <= 0
    if op in ("~", "~>"):
        if wild[0]:
            return True
        if _cmp(v, base) < 0:
            return False
        return _cmp(v, upper(0 if wild[1] else 1)) < 0
    if op == "^":
        if wild[0]:
            return True
        if _cmp(v, base) < 0:
            return False
        major, minor = nums[0] or 0, nums[1]
        if major > 0 or wild[1]:
            return _cmp(v, upper(0)) < 0
        if (minor or 0) > 0 or wild[2]:
            return _cmp(v, upper(1)) < 0
        return _cmp(v, upper(2)) < 0
    raise TemplateFuncError(f"improper constraint operator {op}")


def semver_compare(constraint: str, version: str) -> bool:
    """sprig's semverCompare: does `version` satisfy `constraint` (`,` or space = and, `||` = or)?"""
    v = _Version.parse(version)
    for alternative in constraint.split("||"):
        terms = [t for t in re.split(r"\s*,\s*|\s+(?=[\^~<>=!])", alternative.strip()) if t.strip()]
        if not terms:
            raise TemplateFuncError(f"improper constraint: {constraint}")
        ok = True
        for term in terms:
            m = _CONSTRAINT.fullmatch(term)
            if not m:
                raise TemplateFuncError(f"improper constraint: {term}")
            if not _check_one(m["op"] or "", m["ver"], v):
                ok = False
                break
        if ok:
            return True
    return False


def _semver_compare(constraint: Any, version: Any) -> bool:
    return semver_compare(_strval(constraint, "passed to semverCompare"), _strval(version, "passed to semverCompare"))


#: Function name (as templates call it) -> implementation. `and`, `or` and `not` are translated to jinja operators
#: so that they short-circuit exactly as Go's do.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "default": _default,
    "empty": _empty,
    "coalesce": _coalesce,
    "ternary": _ternary,
    "eq": _eq,
    "ne": _ne,
    "lt": _ordered("lt", lambda a, b: a < b),
    "le": _ordered("le", lambda a, b: a <= b),
    "gt": _ordered("gt", lambda a, b: a > b),
    "ge": _ordered("ge", lambda a, b: a >= b),
    "printf": _printf,
    "print": _print,
    "quote": _quote,
    "squote": _squote,
    "toJson": _to_json,
    "toYaml": _to_yaml,
    "semverCompare": _semver_compare,
    "lower": _str_fn("lower", str.lower),
    "upper": _str_fn("upper", str.upper),
    "trim": _str_fn("trim", lambda s: s.strip(" \t\n\r\v\f")),
    "trimSuffix": _str_fn("trimSuffix", lambda suffix, s: s[: -len(suffix)] if suffix and s.endswith(suffix) else s),
    "trimPrefix": _str_fn("trimPrefix", lambda prefix, s: s[len(prefix) :] if s.startswith(prefix) else s),
    "replace": _str_fn("replace", lambda old, new, s: s.replace(old, new)),
    "contains": _str_fn("contains", lambda sub, s: sub in s),
    "hasPrefix": _str_fn("hasPrefix", lambda prefix, s: s.startswith(prefix)),
    "hasSuffix": _str_fn("hasSuffix", lambda suffix, s: s.endswith(suffix)),
}
