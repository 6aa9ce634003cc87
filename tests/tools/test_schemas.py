"""Compact tool schemas: same meaning, fewer bytes."""

from __future__ import annotations

from k8s_multicluster_mcp.tools.schemas import compact


def test_titles_and_null_defaults_go_and_nullable_unions_collapse() -> None:
    schema = {
        "title": "Args",
        "type": "object",
        "properties": {
            "title": {"title": "Title", "type": "string"},
            "context": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                        "default": None, "title": "Context", "description": "Which."},
            "source": {"anyOf": [{"enum": ["live", "cache"], "type": "string"}, {"type": "null"}], "default": None},
            "limit": {"default": 100, "type": "integer", "title": "Limit"},
            "either": {"anyOf": [{"$ref": "#/$defs/A"}, {"$ref": "#/$defs/B"}]},
        },
        "$defs": {"A": {"title": "A", "type": "object"}, "B": {"title": "B", "type": "object", "description": "b"}},
    }  # fmt: skip
    assert compact(schema) == {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "context": {
                "type": ["string", "array", "null"],
                "items": {"type": "string"},
                "description": "Which.",
            },
            "source": {"type": ["string", "null"], "enum": ["live", "cache", None]},
            "limit": {"default": 100, "type": "integer"},
            "either": {"anyOf": [{"$ref": "#/$defs/A"}, {"$ref": "#/$defs/B"}]},
        },
        "$defs": {"A": {"type": "object"}, "B": {"type": "object", "description": "b"}},
    }
    assert "description" not in str(compact(schema, descriptions=False))


def test_unions_that_cannot_merge_are_kept() -> None:
    two_arrays = {
        "anyOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "array", "items": {"type": "integer"}},
        ]
    }
    assert compact(two_arrays) == two_arrays
    two_enums = {"anyOf": [{"type": "string", "enum": ["a"]}, {"type": "integer", "enum": [1]}]}
    assert compact(two_enums) == two_enums
