from __future__ import annotations

import pytest

from sluice.sdk.args import MissingArgumentError, getResolvedOptions, parse_arguments

pytestmark = pytest.mark.unit


def test_resolves_requested_options() -> None:
    argv = ["script.py", "--JOB_NAME", "etl", "--input", "s3://b/k", "--extra", "x"]
    assert getResolvedOptions(argv, ["JOB_NAME", "input"]) == {
        "JOB_NAME": "etl",
        "input": "s3://b/k",
    }


def test_understands_equals_form_and_last_occurrence_wins() -> None:
    argv = ["script.py", "--a=1", "--a", "2", "--b=x=y"]
    assert getResolvedOptions(argv, ["a", "b"]) == {"a": "2", "b": "x=y"}


def test_missing_option_is_an_error_naming_it() -> None:
    with pytest.raises(MissingArgumentError, match="--output"):
        getResolvedOptions(["script.py", "--input", "x"], ["input", "output"])


def test_option_without_value_is_missing() -> None:
    with pytest.raises(MissingArgumentError):
        getResolvedOptions(["script.py", "--input"], ["input"])


def test_stray_tokens_are_ignored() -> None:
    assert parse_arguments(["positional", "--", "--k", "v"]) == {"k": "v"}


def test_values_may_look_like_anything() -> None:
    assert parse_arguments(["--sql", "select -1 --comment", "--empty", ""]) == {
        "sql": "select -1 --comment",
        "empty": "",
    }
