"""The sandbox does its job for well-behaved programs: results, output, stdin, libraries, concurrency."""

from __future__ import annotations

import asyncio
import json
import os
import textwrap

import pytest
from typer.testing import CliRunner

from agentinstruct.tools.code_interpreter import CodeInterpreterTool
from agentinstruct.tools.sandbox import BubblewrapSandbox
from agentinstruct.tools.sandbox_cli import sandbox_app

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def sandbox():
    box = BubblewrapSandbox()
    box.ensure_ready()
    yield box
    box.close()


def test_exit_code_and_traceback_come_back(sandbox):
    result = sandbox.run("import sys\nprint('before')\nsys.exit(7)")
    assert (result.exit_code, result.stdout, result.timed_out, result.killed) == (7, "before\n", False, False)
    failing = sandbox.run("def f():\n    return 1 / 0\nf()")
    assert failing.exit_code == 1
    assert 'File "/work/main.py", line 2, in f' in failing.stderr
    assert failing.stderr.strip().endswith("ZeroDivisionError: division by zero")


def test_result_has_the_documented_keys(sandbox):
    result = sandbox.run("print('x')").to_dict()
    assert set(result) == {"exit_code", "stdout", "stderr", "timed_out", "killed", "truncated", "duration_s"}
    assert json.loads(json.dumps(result)) == result


def test_unicode_output_and_stdin(sandbox):
    text = "naïve café — 数学 🚀\nsecond line\n"
    result = sandbox.run("import sys\ndata = sys.stdin.read()\nprint(data.upper(), end='')", stdin=text)
    assert result.stdout == text.upper()


def test_large_stdin_round_trip(sandbox):
    payload = "0123456789abcdef" * 40_000  # 640 KB, more than a pipe buffer
    result = sandbox.run("import sys\nprint(len(sys.stdin.read()))", stdin=payload)
    assert result.stdout.strip() == str(len(payload))


def test_numpy_and_sympy_importable(sandbox):
    code = """
    import numpy as np, sympy as sp
    x = sp.symbols("x")
    print(int(np.arange(10).sum()), sp.solve(x**2 - 4, x), np.linalg.det(np.eye(3)))
    """
    result = sandbox.run(textwrap.dedent(code), timeout_s=30)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "45 [-2, 2] 1.0"


def test_work_dir_is_writable_scratch_space(sandbox):
    result = sandbox.run(
        "import os\nopen('out.txt','w').write('hi')\nprint(os.getcwd(), sorted(os.listdir('.')))"
    )
    assert result.stdout.strip() == "/work ['main.py', 'out.txt']"


def test_closed_stdout_still_killed_at_deadline(sandbox):
    result = sandbox.run("import os, time\nos.close(1)\nos.close(2)\ntime.sleep(30)", timeout_s=1)
    assert result.timed_out and result.killed and result.duration_s < 4


def test_concurrent_runs_are_isolated(sandbox):
    code = """
    import os, time
    me = {i}
    open(f"/tmp/mine-{{me}}", "w").write(str(me))
    open(f"/work/mine-{{me}}", "w").write(str(me))
    time.sleep(0.3)
    print(sorted(os.listdir("/tmp")), sorted(f for f in os.listdir("/work") if f != "main.py"), os.getuid())
    """

    async def main():
        runs = [sandbox.arun(textwrap.dedent(code.format(i=i)), timeout_s=30) for i in range(10)]
        return await asyncio.gather(*runs)

    results = asyncio.run(main())
    uids = set()
    for i, result in enumerate(results):
        assert result.exit_code == 0, result.stderr
        assert result.stdout.startswith(f"['mine-{i}'] ['mine-{i}'] "), result.stdout  # sees only its own
        uids.add(result.stdout.split()[-1])
    if os.geteuid() == 0:
        assert len(uids) > 1  # ran in parallel on different slot uids


def test_code_interpreter_tool(sandbox):
    tool = CodeInterpreterTool(sandbox)
    spec = tool.spec()
    assert spec["type"] == "function" and spec["function"]["name"] == "python"
    assert spec["function"]["parameters"]["required"] == ["code"]
    result = asyncio.run(tool.call(code="print(input() * 2)", stdin="ab\n"))
    assert result["stdout"] == "abab\n" and result["exit_code"] == 0
    assert "error" in asyncio.run(tool.call(code=None))


def test_cli_check_and_run(tmp_path):
    runner = CliRunner()
    checked = runner.invoke(sandbox_app, ["check"])
    assert checked.exit_code == 0, checked.output
    assert "[ok ] host uid is not 0" in checked.output and "FAIL" not in checked.output
    program = tmp_path / "prog.py"
    program.write_text("import sys\nprint(sys.stdin.read().strip()[::-1])\nsys.exit(4)\n")
    stdin = tmp_path / "in.txt"
    stdin.write_text("olleh\n")
    ran = runner.invoke(sandbox_app, ["run", str(program), "--stdin", str(stdin), "--timeout", "5"])
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout) | {"duration_s": 0} == {
        "exit_code": 4,
        "stdout": "hello\n",
        "stderr": "",
        "timed_out": False,
        "killed": False,
        "truncated": False,
        "duration_s": 0,
    }
