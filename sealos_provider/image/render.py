"""Render sealos `*.tmpl` files in Python, per host, so hosts receive finished files and never need sealctl.

sealos renders each `*.tmpl` under the image's `etc/`, `scripts/` and `manifests/` (recursively) with Go's
text/template and the rootfs env, writes the output next to it without the `.tmpl` suffix, and on hosts deletes the
template. `render_tree` produces that same result as an in-memory tree; `render_template` is the single-file form.
Where sealos would print `<no value>` for an unset key, we raise `RenderError` naming the file, line and key.
"""

from __future__ import annotations

import stat
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from ..filetree import FileEntry, scan_dir
from .gotemplate import GoTemplateError, translate
from .sprig import FUNCTIONS, Missing, MissingKeyUse, TemplateFuncError, go_print

__all__ = ["RenderError", "TEMPLATE_DIRS", "TEMPLATE_SUFFIX", "render_template", "render_tree"]

#: The directories whose templates sealos renders (`RenderTemplatesWithEnv`); templates elsewhere stay as they are.
TEMPLATE_DIRS = ("etc", "scripts", "manifests")
TEMPLATE_SUFFIX = ".tmpl"


class RenderError(ValueError):
    """A template that cannot be rendered with the given env: `name`, `line` and (if relevant) the env `key`."""

    def __init__(self, name: str, line: int, message: str, key: str | None = None) -> None:
        super().__init__(f"{name}:{line}: {message}")
        self.name = name
        self.line = line
        self.key = key


class _FuncError(Exception):
    def __init__(self, line: int, name: str, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.name = name


def _call(line: int, name: str, *args: Any) -> Any:
    """Call template function `name`, tagging a failure with the template line it came from."""
    try:
        return FUNCTIONS[name](*args)
    except TemplateFuncError as exc:
        raise _FuncError(line, name, str(exc)) from None


@lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        autoescape=False,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
        cache_size=0,
    )
    env.globals["_call"] = _call
    env.globals["_p"] = go_print
    return env


def render_template(text: str, env: Mapping[str, str], name: str) -> str:
    """Render Go-template `text` with `env` as its top-level keys, as sealos would; `name` labels errors."""
    try:
        translation = translate(text, name)
    except GoTemplateError as exc:
        raise RenderError(name, exc.line, exc.message) from None
    try:
        template = _environment().from_string(translation.source)
    except jinja2.TemplateError as exc:  # a translator bug, never user input: say where
        raise RenderError(name, 1, f"internal translation error: {exc}") from None

    def lookup(key: str, line: int) -> Any:
        value = env.get(key)
        return Missing(key, line) if value is None else value

    try:
        return template.render(_text=translation.texts, _const=translation.consts, _v=lookup)
    except MissingKeyUse as exc:
        missing = exc.missing
        raise RenderError(
            name,
            missing.line,
            f"key {missing.key!r} is not set in the env but is {exc.usage} here"
            + (" (sealos would print '<no value>')" if exc.usage == "printed" else "")
            + f": set {missing.key} or give it a default ({{{{ .{missing.key} | default \"...\" }}}})",
            key=missing.key,
        ) from None
    except _FuncError as exc:
        raise RenderError(name, exc.line, f"error calling {exc.name}: {exc}") from None


def _is_template(rel: str) -> bool:
    top = rel.split("/", 1)[0]
    return top in TEMPLATE_DIRS and rel.endswith(TEMPLATE_SUFFIX) and "/" in rel


def render_tree(
    rootfs_dir: Path,
    env: Mapping[str, str],
    *,
    exclude: Iterable[str] = (),
    secrets_probe: Mapping[str, str] | None = None,
) -> list[FileEntry]:
    """Every file of the tree, sorted by path, with each `*.tmpl` under etc/ scripts/ manifests/ replaced by its
    rendered output (same mode as the template). A static file at the output's path is replaced, as sealos deletes
    it before rendering. `exclude` skips paths or directory prefixes (e.g. the registry/ store).

    `secrets_probe` is `env` with every secret value replaced: each template is rendered again with it, and an output
    that comes out different holds a secret, so it is readable by its owner only (group and other bits cleared).
    Looking for the secret's bytes in the output instead would miss a value that the template escapes (`toJson`
    writes `"` as `\\"`)."""
    rootfs_dir = Path(rootfs_dir)
    entries = scan_dir(rootfs_dir, exclude=exclude)
    rendered: dict[str, FileEntry] = {}
    for entry in entries:
        if not _is_template(entry.path):
            continue
        out_path = entry.path[: -len(TEMPLATE_SUFFIX)]
        if not out_path.rsplit("/", 1)[-1]:
            raise RenderError(entry.path, 1, "a template named only '.tmpl' has no output name")
        try:
            text = entry.read().decode("utf-8")
        except UnicodeDecodeError:
            raise RenderError(entry.path, 1, "template is not UTF-8 text") from None
        output = render_template(text, env, entry.path).encode("utf-8")
        mode = stat.S_IMODE(entry.mode)
        if secrets_probe is not None and render_template(text, secrets_probe, entry.path).encode("utf-8") != output:
            mode &= 0o700
        rendered[out_path] = FileEntry.from_bytes(out_path, output, mode=mode)
    result = [e for e in entries if not _is_template(e.path) and e.path not in rendered]
    result.extend(rendered.values())
    return sorted(result, key=lambda e: e.path)
