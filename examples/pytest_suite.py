"""Run a pytest suite and report whether it passed.

Input (all optional):
    {"path": "examples/sample_tests", "args": ["-x"]}

"path" is relative to the workspace root, where Baton starts the plan. pytest's own output is
not captured: it goes straight to this process's stdout and stderr, so Baton streams it live.
Output: {"exit_code": N, "passed": true|false}; the result status is "error" when pytest
fails, and the process then exits with status 1.
"""

import importlib.util
import subprocess
import sys

import baton_plan as plan

USAGE = 'input must look like {"path": "dir/or/file", "args": ["-x"]}'

# What pytest's exit codes mean, for a readable error message.
PYTEST_EXIT_CODES = {
    1: "some tests failed",
    2: "the run was interrupted",
    3: "pytest hit an internal error",
    4: "pytest was used incorrectly (is the path right?)",
    5: "no tests were collected",
}


def fail(message):
    plan.emit_result(status="error", error=message)
    sys.exit(1)


def main():
    request = plan.read_input()
    if not isinstance(request, dict):
        fail(USAGE)
    path = request.get("path", "examples/sample_tests")
    args = request.get("args", [])
    if not isinstance(path, str) or not isinstance(args, list) or not all(
        isinstance(arg, str) for arg in args
    ):
        fail(USAGE)

    if importlib.util.find_spec("pytest") is None:
        fail(f"pytest is not installed for {sys.executable}; "
             f"install it with: {sys.executable} -m pip install pytest")

    # Plans share the workspace and may run at the same time, so keep pytest from
    # writing its .pytest_cache there.
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args, path]
    with plan.step("pytest", input={"path": path, "args": args}) as s:
        sys.stdout.flush()  # our earlier output must come before pytest's
        sys.stderr.flush()
        exit_code = subprocess.run(command).returncode
        s.output = {"exit_code": exit_code}
        if exit_code != 0:
            # pytest ran but the suite failed: mark the step failed without raising.
            reason = PYTEST_EXIT_CODES.get(exit_code, "pytest did not finish normally")
            s.status, s.error = "error", f"pytest exited with code {exit_code}: {reason}"

    output = {"exit_code": exit_code, "passed": exit_code == 0}
    if exit_code == 0:
        plan.emit_result(output)
    else:
        plan.emit_result(output, status="error", error=s.error)
        sys.exit(1)


if __name__ == "__main__":
    main()
