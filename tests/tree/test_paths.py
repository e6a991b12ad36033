"""PathUtils rules: validate_path / is_valid_path and the parent/name split."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.tree import InvalidPath, is_valid_path, validate_path
from roost.tree.paths import join, path_error, split_path

VALID = ["/", "/a", "/a/b", "/ä", "/a.b", "/...", "/a/.b", "/a/b..", "/\u00a0", "/\uffef", "/x y"]
INVALID = ["", "a", "a/b", "/a/", "//", "/a//b", "/.", "/a/.", "/..", "/a/../b", "/a\x00",
           "/\x01", "/\x1f", "/\x7f", "/\x9f", "/\ud800", "/\uf8ff", "/\ufff0", "/\uffff",
           "/\U00010000", "/ok/\U0001f600"]


@pytest.mark.parametrize("path", VALID)
def test_valid(path: str) -> None:
    assert is_valid_path(path)
    assert validate_path(path) is True


@pytest.mark.parametrize("path", INVALID)
def test_invalid(path: str) -> None:
    assert not is_valid_path(path)
    with pytest.raises(InvalidPath):
        validate_path(path)


def test_split_and_join() -> None:
    assert split_path("/a") == ("/", "a")
    assert split_path("/a/b") == ("/a", "b")
    assert split_path("/") == ("/", "")
    assert split_path("/a/") == ("/a", "")
    assert split_path("nope") is None
    assert join("/", "a") == "/a"
    assert join("/a", "b") == "/a/b"


PIECES = ["/", "a", ".", "..", "b", "\x00", "\u00e9", "\ud800", "\U0001f600", "x.y", "\x7f", " "]


@given(st.lists(st.sampled_from(PIECES), max_size=8))
def test_quick_check_agrees_with_the_full_rules(pieces: list[str]) -> None:
    # is_valid_path has a fast path for ordinary paths; it must agree with path_error
    path = "".join(pieces)
    assert is_valid_path(path) == (path_error(path) is None)
