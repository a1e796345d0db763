"""The deterministic faithfulness checks: quotes located with an offset map, entities, copying."""

from __future__ import annotations

import pytest

from synthgen.text.entities import answer_entities, unsupported
from synthgen.text.quotes import copied_share, holds, locate, normalise, word_count

SOURCE = (
    "The \u201cGreat\u201d Fire of Lon-\ndon began on 2 September 1666 in a bakery on "
    "Pudding Lane.\n\nIt  burned for four days and destroyed 13,200 houses."
)


def test_exact_quote_gives_its_span() -> None:
    got = locate("began on 2 September 1666 in a bakery", SOURCE)
    assert got is not None and got.match == "exact"
    assert SOURCE[got.start : got.end] == "began on 2 September 1666 in a bakery"


@pytest.mark.parametrize(
    "quote",
    [
        'The "Great" Fire of London began on 2 September',  # quote chars and a hyphen break
        "it burned for four days and destroyed",  # case and a run of spaces
        "the \u201egreat\u201d fire of london began",
    ],
)
def test_normalised_quote_maps_back_to_the_original(quote: str) -> None:
    got = locate(quote, SOURCE)
    assert got is not None and got.match == "normalised"
    original = SOURCE[got.start : got.end]
    assert normalise(original).text == normalise(quote).text
    assert holds(quote, original, "normalised")


def test_close_alignment_is_fuzzy_and_widened_to_words() -> None:
    got = locate("It burnd for four days and destroyd 13,200 houses", SOURCE)
    assert got is not None and got.match == "fuzzy" and got.score >= 90
    assert SOURCE[got.start : got.end] == "It  burned for four days and destroyed 13,200 houses"
    quote = "It burnd for four days and destroyd 13,200 houses"
    assert holds(quote, SOURCE[got.start : got.end], "fuzzy")


def test_a_close_quote_with_another_number_is_not_found() -> None:
    # one digit apart scores high, but it states another fact
    assert locate("It burned for four days and destroyed 13,900 houses", SOURCE) is None
    assert not holds("destroyed 13,900 houses", "destroyed 13,200 houses", "fuzzy")


def test_a_quote_that_is_not_there_is_not_found() -> None:
    assert locate("quiet harbor engines rarely follow the seasonal budget", SOURCE) is None
    assert locate("   ", SOURCE) is None


def test_holds_refuses_a_span_that_moved() -> None:
    got = locate("began on 2 September 1666 in a bakery", SOURCE)
    assert got is not None
    shifted = SOURCE[got.start + 1 : got.end + 1]
    assert not holds("began on 2 September 1666 in a bakery", shifted, "exact")
    assert not holds("began on 2 September 1666 in a bakery", "", "normalised")
    assert not holds("x", "x", "made-up")


def test_offset_map_covers_every_character() -> None:
    n = normalise(SOURCE)
    assert len(n.origin) == len(n.text) + 1
    pairs = zip(n.origin, n.text, strict=False)
    assert all(SOURCE[o].lower() == c for o, c in pairs if c.isalnum())
    assert word_count("one two, three-four") == 4


def test_entities_the_source_does_not_state_are_named() -> None:
    answer = "The fire began in 1667 near Pudding Lane and Samuel Pepys saw 13200 houses burn."
    assert unsupported(answer, SOURCE, "When did it begin?") == ["1667", "Samuel Pepys"]
    assert unsupported("It began on 2 September 1666 in London.", SOURCE) == []
    # A sentence's first word is capitalised because it opens the sentence, not a name.
    assert answer_entities("Bakeries burned. Houses too.") == []


def test_copied_share_is_the_share_of_the_source_repeated() -> None:
    assert copied_share(SOURCE, SOURCE) == 1.0
    assert copied_share("It burned for four days.", SOURCE) == 0.0
    half = "began on 2 September 1666 in a bakery on Pudding Lane"
    assert 0.3 < copied_share(half, SOURCE) < 0.7
