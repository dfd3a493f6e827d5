"""Helpers for writing Baton execution plans.

Baton runs a plan as a Python subprocess: the plan's JSON input arrives on stdin, and the plan
reports its result by printing one block on stdout::

    __BATON_RESULT_START__
    {"status": "success", "output": {...}, "steps": [...], "usage": {...}}
    __BATON_RESULT_END__

Baton keeps the last such block. Without one, the exit code alone decides whether the run
succeeded. This module reads the input, times steps and prints the block for you::

    import baton_plan as plan

    def main(input):
        with plan.step("greet", input=input) as s:
            s.output = f"Hello, {input.get('name', 'world')}!"
        return {"greeting": s.output}

    if __name__ == "__main__":
        plan.run(main)

``run`` prints a success result with ``main``'s return value, or, if ``main`` raises, an error
result and exit status 1. For more control (usage figures, an error result without an
exception) call ``read_input``, ``step`` and ``emit_result`` yourself.

Standard library only; Python 3.9 or newer.
"""

import datetime
import json
import os
import sys
import time
import traceback
from typing import Any, Callable, List, Optional

__all__ = [
    "RESULT_START",
    "RESULT_END",
    "Step",
    "attempt",
    "emit_result",
    "plan_id",
    "read_input",
    "run",
    "step",
]

RESULT_START = "__BATON_RESULT_START__"
RESULT_END = "__BATON_RESULT_END__"

_UNSET = object()
_input: Any = _UNSET
_steps: List["Step"] = []


# --- Input and environment ----------------------------------------------------------------


def read_input(default: Any = None) -> Any:
    """Return the plan's input: the JSON value Baton wrote to stdin.

    Stdin is read once; later calls return the same object. Empty stdin gives ``default``, or
    ``{}`` when no default is given. An interactive terminal counts as empty, so running a plan
    by hand without piping anything in does not wait for input.

    Raises ``ValueError`` if stdin is not valid JSON.
    """
    global _input
    if _input is _UNSET:
        text = _read_stdin()
        if not text.strip():
            _input = {} if default is None else default
        else:
            try:
                _input = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    "the plan input was not valid JSON: %s (line %d, column %d)"
                    % (exc.msg, exc.lineno, exc.colno)
                ) from None
    return _input


def _read_stdin() -> str:
    stream = sys.stdin
    if stream is None or stream.closed or stream.isatty():
        return ""
    raw = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
    if isinstance(raw, str):
        return raw
    # Baton writes UTF-8 whatever the child's locale says; a BOM is tolerated.
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError("the plan input was not valid JSON: it is not UTF-8 (%s)" % exc) from None


def plan_id() -> Optional[int]:
    """Return the id of the plan being run (``BATON_PLAN_ID``), or None outside Baton."""
    return _int_env("BATON_PLAN_ID")


def attempt() -> Optional[int]:
    """Return the attempt number of this run (``BATON_ATTEMPT``), or None outside Baton."""
    return _int_env("BATON_ATTEMPT")


def _int_env(name: str) -> Optional[int]:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError("%s must be an integer, got %r" % (name, value)) from None


# --- Steps --------------------------------------------------------------------------------


class Step:
    """One step of a plan, recorded by ``with step(...) as s:``.

    In the body, set ``s.output`` to any JSON-serialisable value to record what the step
    produced. The status is ``"success"`` unless the body sets ``s.status`` (for example to
    ``"skipped"``, or to ``"error"`` together with ``s.error`` to record a failure without
    raising). A body that raises always records ``"error"``.
    """

    def __init__(self, name: str, input: Any = None) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("a step name must be a non-empty string, got %r" % (name,))
        self.name = name
        self.input = input
        self.output: Any = None
        self.status: Optional[str] = None
        self.error: Optional[str] = None
        self.started_at: Optional[str] = None
        self.finished_at: Optional[str] = None
        self.duration_ms: Optional[int] = None
        self._input_json: Any = None
        self._output_json: Any = None
        self._t0 = 0.0

    def __enter__(self) -> "Step":
        if self.started_at is not None:
            raise RuntimeError("step %r was already run; create a new one" % self.name)
        # Snapshot now: a non-serialisable input fails here, at the line that caused it, and
        # later changes to the object do not rewrite what the step was given.
        self._input_json = _snapshot(self.input, "the input of step %r" % self.name)
        self.started_at = _utc_now()
        self._t0 = time.monotonic()
        _steps.append(self)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        # Wall-clock timestamps can jump (NTP); the duration comes from the monotonic clock.
        self.duration_ms = int(round((time.monotonic() - self._t0) * 1000))
        self.finished_at = _utc_now()
        try:
            self._output_json = _snapshot(self.output, "the output of step %r" % self.name)
        except (TypeError, ValueError) as problem:
            if exc is None:
                self.status, self.error = "error", _describe(problem)
                raise
            # The body already failed: report its exception, not this second one.
        if exc is not None:
            self.status, self.error = "error", _describe(exc)
        elif self.status is None:
            self.status = "success"
        return False  # never swallow the body's exception

    def to_dict(self) -> dict:
        """Return the step as it appears in the result block."""
        record: dict = {"name": self.name, "status": self.status or "running"}
        record["started_at"] = self.started_at
        if self.finished_at is not None:
            record["finished_at"] = self.finished_at
            record["duration_ms"] = self.duration_ms
        if self._input_json is not None:
            record["input"] = self._input_json
        if self._output_json is not None:
            record["output"] = self._output_json
        if self.error is not None:
            record["error"] = self.error
        return record


def step(name: str, input: Any = None) -> Step:
    """Record a step: ``with step("build", input={...}) as s: ...; s.output = ...``.

    The step gets start and finish timestamps (RFC 3339 UTC, milliseconds), a duration in
    milliseconds and a status: ``"success"``, or ``"error"`` with ``error`` set to
    ``"ExceptionType: message"`` when the body raises. The exception is re-raised. Steps,
    including nested ones, appear in the result in the order they started.
    """
    return Step(name, input)


# --- Result -------------------------------------------------------------------------------


def emit_result(
    output: Any = None,
    status: str = "success",
    usage: Optional[dict] = None,
    error: Any = None,
) -> None:
    """Print the result block Baton reads, with every step recorded so far.

    ``status`` is ``"success"`` or ``"error"``; Baton fails a run whose status is ``"error"``
    even if it exits 0. ``usage`` is an optional dict such as
    ``{"input_tokens": 120, "output_tokens": 40, "cost_usd": 0.002}``. ``error`` is a message
    (an exception is turned into ``"ExceptionType: message"``). Calling this twice is allowed;
    Baton keeps the last block.

    Raises ``ValueError`` for another status or for NaN, Infinity or a circular reference, and
    ``TypeError`` (naming the offending type) if ``output`` or ``usage`` is not
    JSON-serialisable. Nothing is printed when it raises.
    """
    if status not in ("success", "error"):
        raise ValueError('status must be "success" or "error", got %r' % (status,))
    if usage is not None and not isinstance(usage, dict):
        raise TypeError("usage must be a dict, got %s" % type(usage).__name__)
    if isinstance(error, BaseException):
        error = _describe(error)
    elif error is not None:
        error = str(error)

    result = {"status": status, "output": _snapshot(output, "the result output")}
    result["steps"] = [s.to_dict() for s in _steps]
    if usage is not None:
        result["usage"] = _snapshot(usage, "usage")
    if error is not None:
        result["error"] = error

    line = json.dumps(result, ensure_ascii=False)
    # With ensure_ascii=False these stay raw, and line splitters that honour Unicode line
    # breaks would cut the JSON in two. Outside strings JSON has no such characters, so a
    # blind replace is safe.
    for char, escape in (("\u0085", "\\u0085"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        line = line.replace(char, escape)
    # The leading newline keeps the start marker on its own line even if the plan's last
    # output did not end with one.
    _write_stdout("\n%s\n%s\n%s\n" % (RESULT_START, line, RESULT_END))


def _write_stdout(text: str) -> None:
    out = sys.stdout
    out.flush()  # earlier prints must come before the block
    buffer = getattr(out, "buffer", None)
    if buffer is not None:
        # Write UTF-8 bytes: the child's locale may not be UTF-8, but Baton reads UTF-8.
        buffer.write(text.encode("utf-8"))
        buffer.flush()
    else:
        out.write(text)
    out.flush()


def run(main: Callable[[Any], Any]) -> None:
    """Run ``main(read_input())`` and report its outcome to Baton.

    If ``main`` returns, a success result is printed with its return value as ``output``. If it
    raises (an invalid input included), the traceback goes to stderr, an error result carrying
    ``"ExceptionType: message"`` is printed, and the process exits with status 1.
    ``KeyboardInterrupt`` and ``SystemExit`` are not caught.
    """
    try:
        output = main(read_input())
        emit_result(output)
    except Exception as exc:
        traceback.print_exc()
        sys.stderr.flush()
        emit_result(status="error", error=_describe(exc))
        sys.exit(1)


# --- Helpers ------------------------------------------------------------------------------


class _NotSerialisable(TypeError):
    pass


def _reject(value: Any) -> Any:
    raise _NotSerialisable(type(value).__name__)


def _snapshot(value: Any, what: str) -> Any:
    """Return a JSON round-trip copy of value, or raise an error naming what was wrong."""
    if value is None:
        return None
    try:
        # allow_nan=False: NaN and Infinity are not JSON, and Baton's parser would reject them.
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=_reject)
    except _NotSerialisable as exc:
        raise TypeError(
            "%s is not JSON-serialisable: it contains a value of type %s" % (what, exc)
        ) from None
    except TypeError as exc:  # for example a dict key that is a tuple
        raise TypeError("%s is not JSON-serialisable: %s" % (what, exc)) from None
    except ValueError as exc:  # NaN, Infinity, circular references
        raise ValueError(
            "%s cannot be written as JSON (no NaN, Infinity or circular references): %s"
            % (what, exc)
        ) from None
    return json.loads(text)


def _describe(exc: BaseException) -> str:
    message = str(exc)
    return "%s: %s" % (type(exc).__name__, message) if message else type(exc).__name__


def _utc_now() -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (now.microsecond // 1000)
