import pytest

from k8s_multicluster_mcp.errors import InvalidSelectorError
from k8s_multicluster_mcp.selectors import parse_selector

LABELS = {"app": "web", "tier": "front", "env": "prod", "replicas": "3"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("app=web", True),
        ("app==web", True),
        ("app!=web", False),
        ("app=api", False),
        ("missing!=x", True),
        ("app", True),
        ("!app", False),
        ("!missing", True),
        ("env in (prod,staging)", True),
        ("env in (dev)", False),
        ("env notin (dev, qa)", True),
        ("app=web,tier=front", True),
        ("app=web, tier=back", False),
        ("replicas>2", True),
        ("replicas<2", False),
        ("example.com/team=x", False),
        ("app=", False),
    ],
)
def test_matching(selector: str, matches: bool) -> None:
    parsed = parse_selector(selector)
    assert parsed is not None
    assert parsed.matches(LABELS) is matches


def test_blank_means_everything() -> None:
    assert parse_selector(None) is None
    assert parse_selector("  ") is None


def test_canonical_string_round_trips() -> None:
    text = "app=web,tier!=db,env in (prod,staging),release,!canary"
    parsed = parse_selector(text)
    assert str(parsed) == text
    assert parse_selector(str(parsed)) == parsed


@pytest.mark.parametrize(
    ("selector", "why"),
    [
        ("a in (b", "ends too early"),
        ("app=web,", "ends with ','"),
        ("app web", "unexpected 'web' after 'app'"),
        ("app=web x", "expected ','"),
        ("env in ()", "at least one value"),
        ("env in prod", "parenthesised list"),
        ("-bad=x", "not a valid label key"),
        ("app=-web-", "not a valid label value"),
        ("count>many", "needs an integer"),
    ],
)
def test_errors_say_what_is_wrong_and_what_is_valid(selector: str, why: str) -> None:
    with pytest.raises(InvalidSelectorError) as info:
        parse_selector(selector)
    message = str(info.value)
    assert why in message
    assert f"invalid label selector {selector!r}" in message
    assert "valid forms" in message
