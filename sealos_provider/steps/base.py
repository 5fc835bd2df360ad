"""The step model, after k0sctl's phases: a title, a probe ("already done, with these inputs?"), an apply, an undo.

A resource is an ordered list of steps. Create and update run every step whose probe says "not done" (so a failed
`pulumi up` converges when run again, and an update re-runs only what its changed inputs touch); delete runs the undos
in reverse. Probes read host facts gathered once per operation (see `facts.py`), so deciding costs one round trip.
Nothing here imports pulumi: the same steps could serve a CLI.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Protocol

from .context import HostContext


class StepFailed(RuntimeError):
    """A step failed on a host; the message names the host and the step, the cause says why (already redacted)."""

    def __init__(self, host: str, title: str, cause: BaseException) -> None:
        super().__init__(f"[{host}] step '{title}' failed: {cause}")
        self.host = host
        self.title = title
        self.cause = cause


class Probe(Protocol):
    def __call__(self, ctx: HostContext) -> bool: ...


@dataclass(frozen=True)
class Step:
    """One idempotent phase on one host.

    `done` answers from the gathered facts whether the host already matches the inputs; `apply` makes it so and must be
    safe to repeat; `undo` removes what `apply` made (also safe to repeat, tolerant of a partial install).
    """

    title: str
    apply: Callable[[HostContext], None]
    done: Optional[Probe] = None
    undo: Optional[Callable[[HostContext], None]] = None
    always: bool = False  # run even when `done` says yes (cheap convergence checks)


@dataclass
class StepReport:
    """What an operation did on a host: shown in the log and kept in outputs (titles only, no values)."""

    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"ran": list(self.ran), "skipped": list(self.skipped), "seconds": round(self.seconds, 2)}


def run_steps(ctx: HostContext, steps: Iterable[Step]) -> StepReport:
    """Run each step whose probe says it is not done yet, in order; stop at the first failure."""
    report = StepReport()
    started = time.monotonic()
    for step in steps:
        if step.done is not None and not step.always and step.done(ctx):
            ctx.log(f"skip  {step.title} (already done)")
            report.skipped.append(step.title)
            continue
        ctx.log(f"run   {step.title}")
        try:
            step.apply(ctx)
        except Exception as exc:  # noqa: BLE001 - re-raised with the host and step named
            raise StepFailed(ctx.host_label, step.title, exc) from exc
        ctx.invalidate_facts()
        report.ran.append(step.title)
    report.seconds = time.monotonic() - started
    return report


def undo_steps(ctx: HostContext, steps: Iterable[Step]) -> StepReport:
    """Undo the steps in reverse order. Every undo runs even if an earlier one failed, so a destroy removes as much as
    it can; the first failure is raised at the end."""
    report = StepReport()
    started = time.monotonic()
    first_error: Optional[StepFailed] = None
    for step in reversed(list(steps)):
        if step.undo is None:
            continue
        ctx.log(f"undo  {step.title}")
        try:
            step.undo(ctx)
            report.ran.append(step.title)
        except Exception as exc:  # noqa: BLE001
            ctx.log(f"undo of '{step.title}' failed: {exc}")
            if first_error is None:
                first_error = StepFailed(ctx.host_label, f"undo {step.title}", exc)
    report.seconds = time.monotonic() - started
    if first_error is not None:
        raise first_error
    return report
