"""SHA-512 crypt against the specification's test vectors."""

from __future__ import annotations

import pytest

from stook_core.crypt import is_sha512_crypt, sha512_crypt, verify

# From https://www.akkadia.org/drepper/SHA-crypt.txt
VECTORS = [
    ("Hello world!", "saltstring", None,
     "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"),
    ("Hello world!", "saltstringsaltstring", 10000,
     "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."),
    ("This is just a test", "toolongsaltstring", 5000,
     "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0"),
]  # fmt: skip


@pytest.mark.parametrize(("password", "salt", "rounds", "expected"), VECTORS)
def test_specification_vectors(password: str, salt: str, rounds: int | None, expected: str) -> None:
    assert sha512_crypt(password, salt, rounds) == expected
    assert verify(password, expected)
    assert not verify(password + "x", expected)


def test_random_salt_gives_a_well_formed_verifiable_hash() -> None:
    first, second = sha512_crypt("pässwörd"), sha512_crypt("pässwörd")
    assert first != second
    assert is_sha512_crypt(first) and verify("pässwörd", first) and verify("pässwörd", second)
    assert not is_sha512_crypt("$y$j9T$abc$def") and not verify("x", "$1$abc$def")
