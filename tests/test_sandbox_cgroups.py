"""cgroup v2 limits: detection, the files written per run, and a full run through the join stage.

The host may not have a writable cgroup2 mount, so these tests use a fake hierarchy (plain files);
that checks our side (what is written, that the launch chain joins the group) but not the kernel's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentinstruct.tools.sandbox import BubblewrapSandbox, SandboxConfig, SandboxLimits
from agentinstruct.tools.sandbox.cgroups import PARENT_NAME, CgroupLimiter

pytestmark = pytest.mark.timeout(60)


def fake_hierarchy(root: Path) -> Path:
    (root / "cgroup.controllers").write_text("cpu memory pids\n")
    (root / "cgroup.subtree_control").write_text("")
    parent = root / PARENT_NAME
    parent.mkdir()
    (parent / "cgroup.controllers").write_text("memory pids\n")
    return root


def test_not_a_cgroup2_mount(tmp_path):
    limiter = CgroupLimiter(SandboxLimits(), tmp_path)
    assert not limiter.available and "not a cgroup v2 mount" in (limiter.unavailable_reason or "")
    assert limiter.create(60001) is None and limiter.join_argv(None) == []


def test_missing_controllers_reported(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu io\n")
    limiter = CgroupLimiter(SandboxLimits(), tmp_path)
    assert "['memory', 'pids']" in (limiter.unavailable_reason or "")


def test_per_run_group_gets_the_limits(tmp_path):
    limits = SandboxLimits(processes=32, cgroup_memory_bytes=256 << 20)
    limiter = CgroupLimiter(limits, fake_hierarchy(tmp_path))
    assert limiter.available, limiter.unavailable_reason
    assert (tmp_path / PARENT_NAME / "cgroup.subtree_control").read_text() == "+memory +pids"
    group = limiter.create(60001)
    assert group is not None and group.parent == tmp_path / PARENT_NAME
    assert (group / "memory.max").read_text() == str(256 << 20)
    assert (group / "pids.max").read_text() == "36"
    assert limiter.join_argv(group)[-1] == str(group / "cgroup.procs")
    assert limiter.create(60001) != group  # a fresh group per run


def test_run_joins_the_group_before_starting(tmp_path):
    root = fake_hierarchy(tmp_path)
    sandbox = BubblewrapSandbox(SandboxConfig(cgroup_root=root))
    try:
        result = sandbox.run("print('in cgroup')")
    finally:
        sandbox.close()
    assert result.stdout == "in cgroup\n"
    procs = [int(p.read_text()) for p in (root / PARENT_NAME).glob("run-*/cgroup.procs")]
    assert len(procs) == 2 and all(pid > 1 for pid in procs)  # the canary's run and ours
