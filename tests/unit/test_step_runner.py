"""The step runner's rules (k0sctl's phases): run what the probe says is not done, stop at the first failure naming the
host and step, undo in reverse and keep undoing after a failure. The steps here act on a local directory, so the
assertions are about files, not about calls."""

from pathlib import Path

import pytest

from sealos_provider.steps.base import Step, StepFailed, run_steps, undo_steps
from sealos_provider.steps.context import HostContext, HostPaths


def ctx(log):
    return HostContext(session=None, paths=HostPaths(), env={}, log=log.append, host_label="node-1")


def touch_step(root: Path, name: str, fail: bool = False) -> Step:
    target = root / name

    def apply(_):
        if fail:
            raise RuntimeError(f"{name} broke")
        target.write_text(name)

    def undo(_):
        if fail:
            raise RuntimeError(f"undo {name} broke")
        target.unlink(missing_ok=True)

    return Step(f"make {name}", apply=apply, done=lambda _: target.exists(), undo=undo)


def test_rerun_skips_what_is_done_and_converges_after_a_failure(tmp_path):
    log: list[str] = []
    steps = [touch_step(tmp_path, "a"), touch_step(tmp_path, "b", fail=True), touch_step(tmp_path, "c")]
    with pytest.raises(StepFailed) as failure:
        run_steps(ctx(log), steps)
    assert "[node-1] step 'make b' failed: b broke" in str(failure.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]  # stopped at the failure

    steps[1] = touch_step(tmp_path, "b")  # the cause is fixed: the next run does only what is missing
    report = run_steps(ctx(log), steps)
    assert report.skipped == ["make a"] and report.ran == ["make b", "make c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]
    assert run_steps(ctx(log), steps).ran == []  # and a third run changes nothing


def test_undo_runs_in_reverse_and_goes_on_after_a_failure(tmp_path):
    log: list[str] = []
    for name in "abc":
        (tmp_path / name).write_text(name)
    steps = [touch_step(tmp_path, "a"), touch_step(tmp_path, "b", fail=True), touch_step(tmp_path, "c")]
    with pytest.raises(StepFailed) as failure:
        undo_steps(ctx(log), steps)
    assert "undo make b" in str(failure.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # a and c were still removed
    assert [line for line in log if line.startswith("undo ")][:3] == ["undo  make c", "undo  make b", "undo of 'make b' failed: undo b broke"]
