"""`BubblewrapSandbox`: the code interpreter's sandbox, assembled from the pieces in this package.

Launch chain of one run, as root (every stage execs the next, so the pid stays the same):
  [sh: join the run's cgroup] -> nsenter: enter the private interpreter mount view, drop to the slot
  uid/gid with no groups -> prlimit: rlimits -> bwrap: namespaces, read-only mounts, seccomp -> python -I.
As an unprivileged user the nsenter stage is absent (already unprivileged, paths already reachable).
Nothing runs until the self-test in `selftest.py` passed; a failed self-test makes every call raise
`SandboxUnavailable`. There is no fallback that runs code on the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from agentinstruct.tools.sandbox.base import Sandbox, SandboxResult, SandboxUnavailable
from agentinstruct.tools.sandbox.cgroups import CGROUP_ROOT, CgroupLimiter
from agentinstruct.tools.sandbox.launcher import Collected, collect, data_fd, kill_group, spawn
from agentinstruct.tools.sandbox.mount_view import STAGING_DIR, InterpreterMountView
from agentinstruct.tools.sandbox.policy import PROGRAM_PATH, SandboxLimits, bwrap_argv, prlimit_argv
from agentinstruct.tools.sandbox.prerequisites import (
    Check,
    HostTools,
    find_tools,
    interpreter_dirs,
    tool_checks,
    userns_check,
)
from agentinstruct.tools.sandbox.seccomp_filter import seccomp_bpf
from agentinstruct.tools.sandbox.selftest import Inspector, run_canary
from agentinstruct.tools.sandbox.uid_pool import LOCK_DIR, UidPool, kill_processes_of_uid, unusable_uid_reason

LIMIT_SIGNALS = {128 + signal.SIGKILL, 128 + signal.SIGXCPU, 128 + signal.SIGXFSZ}


@dataclass(frozen=True)
class SandboxConfig:
    """Where the sandbox finds its tools and which host resources it may use."""

    limits: SandboxLimits = field(default_factory=SandboxLimits)
    bwrap: str | None = None  # None: look for `bwrap` on the system PATH
    max_concurrency: int = 8
    uid_base: int = 60001  # root mode uses uid_base .. uid_base + max_concurrency - 1
    cgroup_root: Path = CGROUP_ROOT
    lock_dir: Path = LOCK_DIR
    staging_dir: Path = STAGING_DIR


@dataclass
class _Runtime:
    """Everything prepared once the static checks pass."""

    tools: HostTools
    root: bool
    pool: UidPool
    cgroups: CgroupLimiter
    view: InterpreterMountView | None
    binds: list[tuple[str, str]]
    seccomp: bytes


class BubblewrapSandbox(Sandbox):
    """Runs Python in bubblewrap as an unprivileged uid, after a canary proved isolation works."""

    def __init__(self, config: SandboxConfig | None = None):
        self.config = config or SandboxConfig()
        self._lock = threading.Lock()
        self._checks: list[Check] | None = None
        self._runtime: _Runtime | None = None
        self._error: SandboxUnavailable | None = None
        self._executor: ThreadPoolExecutor | None = None

    def check(self) -> list[Check]:
        """The self-test report (run once per sandbox): static checks, then the canary."""
        with self._lock:
            if self._checks is None:
                self._checks = self._self_test()
            return list(self._checks)

    def ensure_ready(self) -> None:
        """Raise SandboxUnavailable, naming the failed checks, unless the self-test passed."""
        self.check()
        if self._error is not None:
            raise self._error

    def run(self, code: str, *, stdin: str = "", timeout_s: float = 10.0) -> SandboxResult:
        """Run `code` as /work/main.py in a fresh sandbox; see `SandboxResult`."""
        self.ensure_ready()
        assert self._runtime is not None
        timeout_s = min(max(float(timeout_s), 0.05), self.config.limits.max_timeout_s)
        outcome = self._execute(self._runtime, code, PROGRAM_PATH, stdin=stdin, timeout_s=timeout_s)
        failure = _setup_failure(outcome)
        if failure:
            raise SandboxUnavailable(f"the sandbox failed to start, nothing was run: {failure}")
        return _to_result(outcome)

    async def arun(self, code: str, *, stdin: str = "", timeout_s: float = 10.0) -> SandboxResult:
        """`run` on the sandbox's own worker threads (one per concurrent slot)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.config.max_concurrency, thread_name_prefix="sandbox")
        call = functools.partial(self.run, code, stdin=stdin, timeout_s=timeout_s)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def close(self) -> None:
        """Release the mount view and worker threads."""
        if self._runtime is not None and self._runtime.view is not None:
            self._runtime.view.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False)

    def _self_test(self) -> list[Check]:
        checks = self._static_checks()
        runtime = None
        if all(check.ok for check in checks):
            try:
                runtime = self._prepare()
            except (SandboxUnavailable, OSError) as exc:
                checks.append(Check("sandbox set-up", False, str(exc)))
        if runtime is not None:
            reason = runtime.cgroups.unavailable_reason
            checks.append(
                Check("cgroup v2 limits (optional)", True, f"not used: {reason}" if reason else "in use")
            )

            def launch(code: str, program_path: str, inspect: Inspector) -> Collected:
                return self._execute(runtime, code, program_path, timeout_s=20.0, inspect=inspect)

            try:
                checks += run_canary(launch, self.config.limits)
            except (OSError, SandboxUnavailable) as exc:
                checks.append(Check("canary ran", False, f"the canary could not be started: {exc}"))
        failed = [check for check in checks if not check.ok]
        if failed or runtime is None:
            causes = "; ".join(f"check '{check.name}' failed ({check.detail})" for check in failed)
            self._error = SandboxUnavailable(
                f"code sandbox unavailable, nothing was run: {causes}. "
                "Run `agentinstruct sandbox check` for the full report."
            )
            if runtime is not None and runtime.view is not None:
                runtime.view.close()
        else:
            self._runtime = runtime
        return checks

    def _static_checks(self) -> list[Check]:
        if not sys.platform.startswith("linux"):
            return [Check("platform", False, f"bubblewrap needs Linux, this is {sys.platform}")]
        root = os.geteuid() == 0
        checks = tool_checks(find_tools(self.config.bwrap), root=root)
        checks.append(userns_check())
        if root:
            uids = self._uids()
            taken = [reason for reason in map(unusable_uid_reason, uids) if reason]
            detail = f"uids {uids[0]}..{uids[-1]}" if not taken else f"{'; '.join(taken)}; change uid_base"
            checks.append(Check("sandbox uids", not taken, detail))
        try:
            checks.append(Check("seccomp filter", True, f"{len(seccomp_bpf()) // 8} BPF instructions"))
        except SandboxUnavailable as exc:
            checks.append(Check("seccomp filter", False, exc.cause))
        return checks

    def _uids(self) -> list[int]:
        return [self.config.uid_base + i for i in range(self.config.max_concurrency)]

    def _prepare(self) -> _Runtime:
        tools = find_tools(self.config.bwrap)
        root = os.geteuid() == 0
        dirs = interpreter_dirs(sys.executable)
        sources = list(dict.fromkeys(os.path.realpath(d) for d in dirs))
        view = None
        if root:
            assert tools.unshare is not None
            view = InterpreterMountView(sources, unshare=tools.unshare, staging_dir=self.config.staging_dir)
            binds = [(view.staged_path(os.path.realpath(d)), d) for d in dirs]
            pool = UidPool(self._uids(), lock_dir=self.config.lock_dir)
        else:
            binds = [(os.path.realpath(d), d) for d in dirs]
            pool = UidPool([os.getuid()] * self.config.max_concurrency, lock_dir=None)
        cgroups = CgroupLimiter(self.config.limits, self.config.cgroup_root)
        return _Runtime(tools, root, pool, cgroups, view, binds, seccomp_bpf())

    def _argv(
        self, runtime: _Runtime, uid: int, group: Path | None, fds: tuple[int, int], path: str
    ) -> list[str]:
        tools, limits = runtime.tools, self.config.limits
        assert tools.bwrap is not None and tools.prlimit is not None
        argv = runtime.cgroups.join_argv(group)
        if runtime.view is not None:
            assert tools.nsenter is not None
            argv += runtime.view.nsenter_argv(tools.nsenter, uid, uid)
        argv += prlimit_argv(tools.prlimit, limits)
        return argv + bwrap_argv(
            tools.bwrap,
            limits,
            interpreter=sys.executable,
            interpreter_binds=runtime.binds,
            code_fd=fds[0],
            seccomp_fd=fds[1],
            program_path=path,
        )

    def _execute(
        self,
        runtime: _Runtime,
        code: str,
        program_path: str,
        *,
        stdin: str = "",
        timeout_s: float,
        inspect: Inspector | None = None,
    ) -> Collected:
        with runtime.pool.slot() as uid:
            group = None
            try:
                group = self._create_cgroup(runtime, uid)
                proc = self._spawn(runtime, uid, group, code, program_path)
                try:
                    if inspect is not None:
                        inspect(proc, uid)
                    return collect(
                        proc,
                        stdin.encode(),
                        timeout_s=timeout_s,
                        output_cap=self.config.limits.output_cap_bytes,
                    )
                finally:
                    if proc.poll() is None:
                        kill_group(proc)
                        with contextlib.suppress(subprocess.TimeoutExpired):
                            proc.wait(timeout=5)
            finally:
                if runtime.root:
                    kill_processes_of_uid(uid)
                runtime.cgroups.destroy(group)

    @staticmethod
    def _create_cgroup(runtime: _Runtime, uid: int) -> Path | None:
        try:
            return runtime.cgroups.create(uid)
        except OSError as exc:
            raise SandboxUnavailable(f"cannot create the run's cgroup, nothing was run: {exc}") from exc

    def _spawn(
        self, runtime: _Runtime, uid: int, group: Path | None, code: str, program_path: str
    ) -> subprocess.Popen[bytes]:
        fds: list[int] = []
        try:
            fds.append(data_fd("program", code.encode("utf-8", errors="replace")))
            fds.append(data_fd("seccomp", runtime.seccomp))
            return spawn(self._argv(runtime, uid, group, (fds[0], fds[1]), program_path), tuple(fds))
        except OSError as exc:
            raise SandboxUnavailable(f"cannot start the sandbox launcher, nothing was run: {exc}") from exc
        finally:
            for fd in fds:
                os.close(fd)


def _setup_failure(outcome: Collected) -> str:
    """bwrap's own one-line error when it failed before starting the program ('' otherwise)."""
    stderr = outcome.stderr.text().strip()
    if (
        outcome.returncode == 1
        and not outcome.stdout.kept
        and stderr.startswith("bwrap: ")
        and "\n" not in stderr
    ):
        return stderr
    return ""


def _to_result(outcome: Collected) -> SandboxResult:
    code = outcome.returncode if outcome.returncode >= 0 else 128 - outcome.returncode
    return SandboxResult(
        exit_code=code,
        stdout=outcome.stdout.text(),
        stderr=outcome.stderr.text(),
        timed_out=outcome.timed_out,
        killed=outcome.timed_out or code in LIMIT_SIGNALS,
        truncated=bool(outcome.stdout.dropped or outcome.stderr.dropped),
        duration_s=round(outcome.duration_s, 4),
    )


@functools.lru_cache(maxsize=1)
def default_sandbox() -> BubblewrapSandbox:
    """The process-wide sandbox with the default configuration (self-tested on first use)."""
    return BubblewrapSandbox()
