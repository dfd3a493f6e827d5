"""A plan that fails on purpose, to show how failures are reported.

The first step succeeds and the second raises. plan.run() records the failed step, prints the
traceback to stderr, emits a result with "status": "error" and exits with status 1, so Baton
marks the run failed and shows both steps.

Input (optional): {"reason": "why the second step fails"}
"""

import baton_plan as plan


def main(input):
    with plan.step("fetch") as s:
        s.output = {"records": 3}

    with plan.step("upload", input={"records": 3}):
        raise RuntimeError(input.get("reason", "the upload target refused the connection"))


if __name__ == "__main__":
    plan.run(main)
