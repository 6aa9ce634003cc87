import pytest

from k8s_multicluster_mcp.common.errors import InvalidSelectorError
from k8s_multicluster_mcp.common.selectors import parse_selector

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


def test_a_huge_selector_is_refused_at_once_with_a_short_message() -> None:
    with pytest.raises(InvalidSelectorError) as info:
        parse_selector("a=b," * 400_000)
    message = str(info.value)
    assert message.startswith("label selector too long (1600000 characters; at most 4096)")
    assert len(message) < 300


def test_a_long_valid_selector_still_parses() -> None:
    text = ",".join(f"k{i}=v{i}" for i in range(400))
    assert len(text) < 4096
    selector = parse_selector(text)
    assert selector is not None and len(selector.requirements) == 400
    assert selector.matches({f"k{i}": f"v{i}" for i in range(400)})


def test_errors_echo_a_clipped_selector() -> None:
    with pytest.raises(InvalidSelectorError) as info:
        parse_selector("app in (" + "x" * 3000)
    assert "(3008 characters)" in str(info.value)
    assert len(str(info.value)) < 400
