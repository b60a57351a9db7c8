"""A page token is refused when any one of its characters is changed, however small the change."""

import string

import pytest

from sluice.common.errors import InvalidInput
from sluice.common.paging import PageTokenCodec

ALPHABET = string.ascii_letters + string.digits + "-_"


def test_a_token_decodes_to_what_it_carries() -> None:
    codec = PageTokenCodec(b"k" * 32)
    token = codec.encode("scope", ["db", "t1"])
    assert codec.decode(token, "scope") == ["db", "t1"]


@pytest.mark.parametrize("position", ["a", 7, ["db", "t1"], "user-2"])
def test_every_single_character_change_is_refused(position: object) -> None:
    codec = PageTokenCodec(b"k" * 32)
    token = codec.encode("scope", position)
    for i, char in enumerate(token):
        for other in ALPHABET + ".=+/ ":
            if other == char:
                continue
            altered = token[:i] + other + token[i + 1 :]
            with pytest.raises(InvalidInput):
                codec.decode(altered, "scope")


def test_a_token_with_padding_or_foreign_characters_is_refused() -> None:
    codec = PageTokenCodec(b"k" * 32)
    token = codec.encode("scope", "a")
    for altered in (token + "=", token + "\n", "é" + token, token.replace(".", "..")):
        with pytest.raises(InvalidInput):
            codec.decode(altered, "scope")
