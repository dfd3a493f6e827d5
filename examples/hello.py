"""Greet someone: the smallest complete Baton plan.

Input:  {"name": "Ada"}
Output: {"greeting": "Hello, Ada!", "letters": 3}

Try it without Baton, from the repository root:

    echo '{"name": "Ada"}' | PYTHONPATH=python python3 examples/hello.py
"""

import baton_plan as plan


def main():
    name = plan.read_input().get("name", "world")

    with plan.step("greet", input={"name": name}) as s:
        greeting = f"Hello, {name}!"
        s.output = greeting

    with plan.step("count", input={"name": name}) as s:
        letters = sum(ch.isalpha() for ch in name)
        s.output = letters

    # A plan that calls a model reports what it spent; these numbers are only an example.
    plan.emit_result(
        {"greeting": greeting, "letters": letters},
        usage={"input_tokens": 12, "output_tokens": 5, "cost_usd": 0.0001},
    )


if __name__ == "__main__":
    main()
