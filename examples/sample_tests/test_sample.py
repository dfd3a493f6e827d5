"""Tiny passing tests for examples/pytest_suite.py to run."""


def test_addition():
    assert 1 + 1 == 2


def test_string_methods():
    assert "baton".upper() == "BATON"


def test_sorting():
    assert sorted([3, 1, 2]) == [1, 2, 3]
