"""What the four node-side providers share: input normalisation, validation into CheckFailures, the rules-table diff,
one SSH session per operation, host-key TOFU across operations, redacted errors and logs, drift in outputs.

Pulumi facts this leans on (../shared/spec/pulumi-dynamic-providers.md): `diff`, `update`, `delete` and `read` receive
the old *outputs*, so outputs carry every input; numbers arrive as floats; secrets arrive as plain values; during
preview only `check` and `diff` run and may see `Unknown`s; up to four operations run at once in one process, so
nothing here keeps state on the provider object.
"""

from __future__ import annotations

import posixpath
import re
import shlex
import sys
import threading
import time
from abc import abstractmethod
from typing import Any, Iterable, Mapping, Optional

from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult
from pulumi.output import Unknown

from ..remote.connection import ConnectionSpec
from ..remote.errors import DialError
from ..remote.redact import Redactor
from ..steps.base import run_steps, undo_steps
from ..steps.common import drift as component_drift
from ..steps.context import HostContext
from . import rules
from .hosttree import paths_of

# Inputs every node resource has, besides its own.
NODE_INPUTS = (
    "resource_name",
    "connection",
    "internal_address",
    "rootfs_dir",
    "artifact_cache",
    "arch",
    "cluster_name",
    "data_root",
    "env",
    "keep_data",
    "image_digest",
    "rendered",
    "tree_digest",
)


UNDO_SCRIPTS = "undo-scripts"  # push manifest of scripts brought back for a delete
_CLUSTER_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def common_problems(props: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Inputs every node resource shares that decide where things live on the host: a typo here would move (and,
    with a replace, delete) the whole install, so they are checked before anything else."""
    problems = []
    root = props.get("data_root")
    if root is not None and (not isinstance(root, str) or not root.startswith("/") or posixpath.normpath(root) != root or root == "/"):
        problems.append(("data_root", f"must be a normalised absolute directory other than /, e.g. /var/lib/sealos; got {root!r}"))
    name = props.get("cluster_name")
    if name is not None and (not isinstance(name, str) or not _CLUSTER_NAME.match(name)):
        problems.append(("cluster_name", f"must be lowercase letters, digits and '-' (like sealos's cluster names), e.g. default; got {name!r}"))
    return problems


def reason_of(exc: BaseException) -> str:
    """An error's message without a leading `<field>: `: the CheckFailure already names the field."""
    text = str(getattr(exc, "message", "") or exc)
    field = getattr(exc, "field", "")
    for prefix in (f"{field}: ", f"{str(field).split('.')[-1]}: "):
        if field and text.startswith(prefix):
            text = text[len(prefix):]
    return text


def has_unknown(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, Mapping):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_unknown(v) for v in value)
    return False


class ProvisionError(RuntimeError):
    """What the CLI shows when an operation fails: host, step and cause, with every secret redacted."""


_STDERR_LOCK = threading.Lock()


class Log:
    """Provider log lines go to stderr, which the engine relays line by line; they carry no resource URN, so every
    line names the resource. Secrets are redacted before anything is written."""

    def __init__(self, resource: str, redactor: Redactor) -> None:
        self.resource = resource
        self.redactor = redactor

    def __call__(self, message: str) -> None:
        text = "".join(f"[{self.resource}] {self.redactor.redact(line)}\n" for line in str(message).splitlines() or [""])
        # One write per message under one lock: up to four operations log at once from the provider's worker threads,
        # and print()'s separate write of the newline let their lines run together.
        with _STDERR_LOCK:
            sys.stderr.write(text)
            sys.stderr.flush()


class NodeProvider(ResourceProvider):
    """Base of the per-host providers. Subclasses say which inputs they have, validate their own parts, and turn
    inputs into steps; this class does the Pulumi plumbing once."""

    resource_type: str = ""  # key into rules.RULES
    component: str = ""  # which part of the rootfs it owns (steps.layout)
    own_inputs: tuple[str, ...] = ()
    computed_inputs: tuple[str, ...] = ()  # keys `desired` adds to the inputs at check, beyond `rendered`/`tree_digest`
    data_env: tuple[str, ...] = ()  # env inputs naming data directories its delete removes (when it created them)
    ordering_inputs: tuple[str, ...] = ()  # inputs that only order this resource after another: check never reads them

    # -- subclass hooks ----------------------------------------------------------------------------------------------
    @abstractmethod
    def validate(self, props: dict[str, Any]) -> list[tuple[str, str]]:
        """(field, reason) problems with the resource's own inputs; `props` is already normalised."""

    @abstractmethod
    def desired(self, props: dict[str, Any]) -> dict[str, Any]:
        """Computed locally at check time (no SSH): `rendered` {rootfs path: sha256} and `tree_digest` of this
        resource's part of the host tree, so a preview says exactly which rendered files will change."""

    @abstractmethod
    def plan(self, props: Mapping[str, Any], olds: Optional[Mapping[str, Any]] = None) -> Any:
        """What to do on the host, computed locally from the inputs (and, on update, the previous outputs): a plan of
        `sealos_provider.steps` with `env`, `targets`, `units`, `fact_query(state_dir)`, `steps()` and
        `extra_drift(ctx)`."""

    def after_converge(self, props: Mapping[str, Any], plan: Any, session: Any) -> dict[str, Any]:
        """Outputs read from the host once the steps ran (e.g. the CA hash after kubeadm init)."""
        return {}

    # -- running plans: the same for every resource ------------------------------------------------------------------
    def _context(self, props: Mapping[str, Any], session: Any, log: "Log", plan: Any) -> HostContext:
        paths = paths_of(props)
        return HostContext(session, paths, plan.env, log, props["connection"]["host"], plan.fact_query(paths.state))

    def converge(self, props: dict[str, Any], session: Any, log: "Log", olds: Optional[Mapping[str, Any]]) -> dict[str, Any]:
        """Run every step whose probe says it is not done; return computed outputs (besides the inputs)."""
        plan = self.plan(props, olds)
        report = run_steps(self._context(props, session, log, plan), plan.steps())
        return {"last_run": report.as_dict(), "installed": dict(plan.targets), **self.after_converge(props, plan, session)}

    def inspect(self, props: dict[str, Any], session: Any, log: "Log") -> list[str]:
        """The differences between the host and the inputs (empty: in sync), from one round trip of facts."""
        plan = self.plan(props, props)
        ctx = self._context(props, session, log, plan)
        return (
            component_drift(ctx, self.component, plan.targets, units=plan.units)
            + plan.extra_drift(ctx)
            + self.rootfs_drift(ctx)
        )

    def rootfs_drift(self, ctx: HostContext) -> list[str]:
        """This component's files in the host's rootfs (scripts, rendered templates, binaries) against what the
        last push placed there: a script edited on the host is drift too, and the next up's push puts it back."""
        root = ctx.paths.rootfs.rstrip("/")
        changes = ctx.session.tree_changes(root, manifest_name=self.component)
        if changes is None:
            return [f"{root}: no record of a completed push of the {self.component} files"]
        return [f"{root}/{change}" for change in changes]

    def remove(self, props: dict[str, Any], session: Any, log: "Log") -> None:
        """Undo the steps in reverse order, from what the host recorded at install time."""
        plan = self.plan(props, props)
        ctx = self._context(props, session, log, plan)
        scripts = [e for e in plan.tree if e.path.startswith("scripts/")]
        missing = session.run_script(f"test -d {shlex.quote(ctx.paths.scripts)}\n", step="find scripts", check=False, stream=False)
        if missing.exit_code != 0 and scripts:
            # The clean scripts are gone (a partial install, or a replaced sibling took the rootfs): bring them back
            # for this delete only, so the clean still runs from the records instead of leaving the host half-done.
            log(f"the rootfs scripts are missing on the host: pushing {len(scripts)} scripts to run the clean")
            session.push_tree(scripts, ctx.paths.rootfs, manifest_name=UNDO_SCRIPTS)
        try:
            undo_steps(ctx, plan.steps())
        finally:
            if missing.exit_code != 0 and scripts:
                session.remove_tree(ctx.paths.rootfs, manifest_name=UNDO_SCRIPTS)

    def secrets(self, props: Mapping[str, Any]) -> list[str]:
        """Values to redact: the connection's credentials plus the subclass's own."""
        return []

    def computed_outputs(self) -> tuple[str, ...]:
        return ()

    # -- helpers -----------------------------------------------------------------------------------------------------
    def inputs_of(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """The inputs as `check` stored them, taken from `props` (inputs, or outputs that carry them): `read` returns
        exactly these, so a refresh leaves the stored inputs as they were and the next preview shows no phantom
        input change."""
        keys = ("resource_name",) + NODE_INPUTS + self.own_inputs + self.computed_inputs
        return {k: props[k] for k in keys if k in props}

    def secret_values(self, props: Mapping[str, Any]) -> list[str]:
        values: list[str] = []
        conn = props.get("connection")
        if isinstance(conn, Mapping) and not has_unknown(conn):
            try:
                values += ConnectionSpec.from_dict(conn).secret_values()
            except Exception:  # noqa: BLE001 - invalid connections are reported by check
                pass
        values += self.secrets(props)
        return [v for v in values if isinstance(v, str) and v]

    def redactor(self, props: Mapping[str, Any]) -> Redactor:
        return Redactor(self.secret_values(props))

    def spec(self, props: Mapping[str, Any], host_key: Optional[str] = None) -> ConnectionSpec:
        spec = ConnectionSpec.from_dict(props["connection"])
        if host_key and spec.host_key_policy == "tofu":
            spec = spec.with_host_key(host_key)
        return spec

    def _session(self, props: Mapping[str, Any], log: Log, host_key: Optional[str]):
        from ..remote.session import open_session  # paramiko only where a host is touched

        return open_session(
            self.spec(props, host_key), log=log, secrets=self.secret_values(props), name=props.get("resource_name", "")
        )

    def _fail(self, props: Mapping[str, Any], what: str, exc: BaseException) -> ProvisionError:
        red = self.redactor(props)
        return ProvisionError(red.redact(f"{props.get('resource_name', self.resource_type)}: {what} failed: {exc}"))

    # -- ResourceProvider --------------------------------------------------------------------------------------------
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        props = rules.normalise(dict(news))
        failures: list[CheckFailure] = []
        conn = props.get("connection")
        if conn is None:
            failures.append(CheckFailure("connection", "connection is required: give at least connection.host"))
        elif not has_unknown(conn):
            try:
                spec = ConnectionSpec.from_dict(conn).validate()
                props["connection"] = {**conn, **{k: v for k, v in spec.to_dict().items() if k in conn}}
            except Exception as exc:  # noqa: BLE001 - becomes a CheckFailure naming the field
                field = str(getattr(exc, "field", "") or "connection")
                field = field if field.startswith("connection") else f"connection.{field}"
                failures.append(CheckFailure(field, self.redactor(props).redact(reason_of(exc))))
        if not props.get("internal_address") and isinstance(conn, Mapping) and not has_unknown(conn.get("host")):
            props["internal_address"] = conn.get("host")
        # An input that only orders this resource (unknown while the resource it follows is replaced) does not stop
        # the local render: the preview still shows this host's rendered files, not their removal.
        if not has_unknown({k: v for k, v in props.items() if k not in self.ordering_inputs}):
            problems = common_problems(props) + self.validate(props)
            own = [CheckFailure(field, self.redactor(props).redact(reason)) for field, reason in problems]
            failures += own
            if not own:  # the env and the tree are checked even when the connection is wrong: report everything
                try:
                    props.update(self.desired(props))
                except Exception as exc:  # noqa: BLE001
                    failures.append(CheckFailure(getattr(exc, "field", "rootfs_dir"), self.redactor(props).redact(reason_of(exc))))
        return CheckResult(props, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = [k for k in NODE_INPUTS + self.own_inputs if k in olds or k in news]
        changed = [p for p in rules.changed_paths(olds, news, keys) if not has_unknown(_get(news, p))]
        unknown = [p for p in keys if has_unknown(news.get(p))]
        actions = {p: rules.action_for(self.resource_type, p) for p in changed + unknown}
        replaces = sorted({p.split(".")[0] for p, a in actions.items() if a in (rules.REPLACE, rules.REPLACE_FIRST_DELETE)})
        first_delete = any(a == rules.REPLACE_FIRST_DELETE for a in actions.values())
        updates = [p for p, a in actions.items() if a == rules.UPDATE]
        drifted = bool(olds.get("drift"))  # found by the last refresh: the next up repairs it
        if not replaces and not updates and not drifted:
            return DiffResult(changes=False)
        if replaces:
            self._warn_data_on_replace(olds, replaces)
        return DiffResult(changes=True, replaces=replaces, delete_before_replace=first_delete)

    def _warn_data_on_replace(self, olds: Mapping[str, Any], replaces: list[str]) -> None:
        """A replace runs the old resource's delete, and with keep_data=false that removes the data directories the
        install created (pushed images, Docker's images): say so in the preview, before anything happens."""
        if olds.get("keep_data") or not self.data_env:
            return
        try:
            from .hosttree import load_image, merged_env

            env = merged_env(load_image(olds), olds)
            dirs = [str(getattr(env, name)) for name in self.data_env]
        except Exception:  # noqa: BLE001 - an old state this tree cannot render: name the inputs instead
            dirs = [f"env.{name}" for name in self.data_env]
        name = olds.get("resource_name", self.resource_type)
        Log(name, self.redactor(olds))(
            f"warning: replacing {name} ({', '.join(replaces)} changed) runs its delete first, which removes "
            f"{' and '.join(dirs)} with their content where this install created them; set keep_data=True first "
            "to keep them"
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._converge(props, host_key=None)
        host = props["connection"]["host"]
        return CreateResult(f"{props.get('resource_name', self.resource_type)}@{host}", outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        same_host = olds.get("connection", {}).get("host") == news["connection"]["host"]
        return UpdateResult(self._converge(news, host_key=olds.get("host_key") if same_host else None, olds=olds))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        log = Log(props.get("resource_name", self.resource_type), self.redactor(props))
        try:
            with self._session(props, log, props.get("host_key")) as session:
                drift = self.inspect(props, session, log)
        except Exception as exc:  # noqa: BLE001
            raise self._fail(props, "refresh", exc) from None
        for line in drift:
            log(f"drift: {line}")
        outs = {**props, "drift": drift}
        return ReadResult(id_, outs, self.inputs_of(props))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        log = Log(props.get("resource_name", self.resource_type), self.redactor(props))
        try:
            with self._session(props, log, props.get("host_key")) as session:
                self.remove(props, session, log)
        except DialError as exc:
            # Never forget a resource silently: the host may only be down. Say how to let go of it on purpose.
            raise self._fail(
                props,
                "delete",
                f"{exc}. If the host is gone for good, drop this resource from the state with "
                "`pulumi state delete <urn>` (`pulumi stack --show-urns` lists them); otherwise bring it back and retry",
            ) from None
        except Exception as exc:  # noqa: BLE001
            raise self._fail(props, "delete", exc) from None

    def _converge(self, props: dict[str, Any], host_key: Optional[str], olds: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
        log = Log(props.get("resource_name", self.resource_type), self.redactor(props))
        started = time.monotonic()
        try:
            with self._session(props, log, host_key) as session:
                computed = self.converge(props, session, log, olds)
                seen_key = session.host_key
        except Exception as exc:  # noqa: BLE001
            raise self._fail(props, "update" if olds is not None else "create", exc) from None
        log(f"done in {time.monotonic() - started:.1f}s")
        return {**self.inputs_of(props), **computed, "host_key": seen_key, "drift": []}


def _get(d: Mapping[str, Any], dotted: str) -> Any:
    cur: Any = d
    for part in dotted.split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def secret_paths(props: Mapping[str, Any], paths: Iterable[str]) -> list[str]:
    return [str(v) for v in (_get(props, p) for p in paths) if isinstance(v, str) and v]
