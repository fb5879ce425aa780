"""Id normalisation rules against hand-made cases, their canonical text, and duplicates."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fl_node.vertical.tables import (
    IdRule,
    IdRuleError,
    IdRules,
    RawTable,
    TableError,
    id_shape,
    normalised_ids,
)


@pytest.mark.parametrize(
    ("rules", "raw", "expected"),
    [
        ("strip", "  0001\t", "0001"),
        ("casefold", "Straße-ABC", "strasse-abc"),
        ("nfkc", "１２３", "123"),  # full-width digits
        ("nfkc", "ﬁle", "file"),  # ligature
        ("nfkc", "e\u0301", "\u00e9"),  # decomposed accent composed
        ("digits", "cust-0001", "0001"),
        ("digits", "٠٠٤٢", "0042"),  # Arabic-Indic digits written in ASCII
        ("digits", "no digits", ""),
        ("lstrip0", "0007", "7"),
        ("lstrip0", "000", "0"),
        ("lstrip0", "", ""),
        ("lstrip0", "A007", "A007"),
        ('prefix="cust-"', "cust-0001", "0001"),
        ('prefix="cust-"', "CUST-0001", "CUST-0001"),
        ("casefold|prefix=cust-", "CUST-0001", "0001"),
        ("strip|digits|lstrip0", " cust-0042 ", "42"),
    ],
)
def test_each_rule_on_hand_made_cases(rules: str, raw: str, expected: str) -> None:
    assert IdRules.parse(rules).apply(raw) == expected


def test_the_three_id_styles_meet_under_one_rule_set() -> None:
    raw = ["cust-0001", "0001", "C1"]
    assert len(set(raw)) == 3
    for text in ('prefix="cust-"|prefix="C"|lstrip0', "digits|lstrip0"):
        assert set(IdRules.parse(text).apply_all(raw)) == {"1"}
    assert IdRules.parse('prefix="cust-"').apply_all(raw[:2]) == ["0001", "0001"]


def test_nfc_and_nfd_ids_only_meet_with_nfkc() -> None:
    composed, decomposed = "jos\u00e9", "jose\u0301"
    assert IdRules().apply(composed) != IdRules().apply(decomposed)
    assert IdRules.parse("nfkc").apply(composed) == IdRules.parse("nfkc").apply(decomposed)


def test_rules_apply_in_order() -> None:
    # casefold before the prefix rule matches 'CUST-'; after it does not.
    assert IdRules.parse("casefold|prefix=cust-").apply("CUST-7") == "7"
    assert IdRules.parse("prefix=cust-|casefold").apply("CUST-7") == "cust-7"


def test_canonical_text_round_trips_and_the_digest_tells_rule_sets_apart() -> None:
    rules = IdRules.parse('strip, nfkc | prefix="a|b,c" | lstrip0')
    assert rules.canonical() == 'idrules/v1:strip|nfkc|prefix="a|b,c"|lstrip0'
    assert IdRules.parse(rules.canonical()) == rules
    assert IdRules.parse(rules.canonical()).digest() == rules.digest()
    swapped = IdRules((rules.rules[1], rules.rules[0], *rules.rules[2:]))
    assert swapped.digest() != rules.digest()
    assert IdRules().canonical() == "idrules/v1:"
    assert IdRules.parse("") == IdRules()


@pytest.mark.parametrize(
    "text", ["upper", "prefix", "prefix=", 'prefix="unterminated', "idrules/v2:strip"]
)
def test_malformed_rules_are_refused(text: str) -> None:
    with pytest.raises(IdRuleError):
        IdRules.parse(text)


def test_a_prefix_argument_only_on_prefix() -> None:
    with pytest.raises(IdRuleError):
        IdRule("strip", "x")
    with pytest.raises(IdRuleError):
        IdRule("prefix")


@given(st.text(max_size=30))
def test_digits_and_lstrip0_match_a_regex_reference_on_ascii(value: str) -> None:
    ascii_value = value.encode("ascii", "ignore").decode()
    digits = "".join(re.findall(r"[0-9]", ascii_value))
    assert IdRules.parse("digits").apply(ascii_value) == digits
    expected = re.sub(r"^0+(?=.)", "", digits) if digits else ""
    assert IdRules.parse("digits|lstrip0").apply(ascii_value) == expected


def test_id_shape() -> None:
    assert id_shape("cust-0001") == "aaaa-9999"
    assert id_shape("C1") == "A9"
    assert id_shape("Émile 12") == "Aaaaa 99"


def test_duplicates_after_normalisation_are_refused_naming_both_lines(
    read_host: Callable[[str], RawTable],
) -> None:
    table = read_host("id,x\n001,1\n2,2\n1,3\n")
    assert normalised_ids(table, IdRules()) == ("001", "2", "1")
    with pytest.raises(TableError) as caught:
        normalised_ids(table, IdRules.parse("lstrip0"))
    message = str(caught.value)
    assert "line 4" in message and "(line 2)" in message and "'001'" in message


def test_an_id_empty_after_normalisation_is_refused(read_host: Callable[[str], RawTable]) -> None:
    table = read_host("id,x\nA1,1\nB,2\n")
    with pytest.raises(TableError, match="line 3.*empty after"):
        normalised_ids(table, IdRules.parse("digits"))


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=20))
def test_the_ascii_shape_path_matches_the_general_one(value: str) -> None:
    general = "".join(
        "9" if c.isdecimal() else ("A" if c.isupper() else "a") if c.isalpha() else c for c in value
    )
    assert id_shape(value) == general
