"""Label selectors (minipod.kube.selectors), as the API server reads a
labelSelector: equality, set-based, existence and integer comparisons."""

import pytest

from minipod.kube.selectors import Requirement, SelectorError, parse_selector, tokens

WEB = {"app": "web", "tier": "front", "replicas": "3", "empty": ""}


@pytest.mark.parametrize(
    "selector, matches",
    [
        ("", True),  # the empty selector selects everything
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("app!=web", False),
        ("missing!=x", True),  # != also selects pods without the label
        ("app", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("app in (db, web)", True),
        ("app in (db,cache)", False),
        ("missing in (x)", False),
        ("app notin (db, cache)", True),
        ("app notin (web)", False),
        ("missing notin (x)", True),  # as != does
        ("replicas>2", True),
        ("replicas<3", False),
        ("app>2", False),  # not an integer: never matches
        ("missing<9", False),
        ("empty=", True),  # key= selects the empty value
        ("empty", True),
        ("app=web,tier=front", True),  # comma = and
        ("app=web,tier=back", False),
        ("  app = web ,  tier  ", True),  # blanks between tokens
        ("app in (web),!missing,replicas>1", True),
    ],
)
def test_matches(selector, matches):
    assert parse_selector(selector).matches(WEB) is matches


def test_parsed_requirements():
    sel = parse_selector("a=1,b!=2,c in (x,y),!d,e")
    assert sel.requirements == (
        Requirement("a", "=", ("1",)),
        Requirement("b", "!=", ("2",)),
        Requirement("c", "in", ("x", "y")),
        Requirement("d", "!"),
        Requirement("e", "exists"),
    )


def test_tokens():
    assert tokens("a!=b,c in (x, y)") == ["a", "!=", "b", ",", "c", "in", "(", "x", ",", "y", ")"]
    assert tokens("example.com/tier==front") == ["example.com/tier", "==", "front"]


@pytest.mark.parametrize(
    "selector, message",
    [
        ("app in web", "found 'web', expected: '('"),
        ("app in (web", "found '', expected: ')'"),
        ("app in ()", "values set can't be empty"),
        ("app web", "found 'web', expected: '=', '!=', '==', 'in', 'notin', '<', '>', ',' or end of string"),
        ("=web", "found '=', expected: identifier"),
        ("!", "found '', expected: identifier"),
        ("app=web,", "expected: identifier after ','"),
        ("replicas>three", "the value must be an integer"),
        ("a=b=c", "found '=', expected: ','"),
    ],
)
def test_errors_say_what_was_found_and_expected(selector, message):
    with pytest.raises(SelectorError, match="^unable to parse requirement: ") as e:
        parse_selector(selector)
    assert message in str(e.value)
