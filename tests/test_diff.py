"""Plan diffs: property paths with old -> new, embedded JSON diffed structurally, stacks compared like for like."""

from __future__ import annotations

from spk.diff import ABSENT, PropertyChange, diff_plans, diff_values
from spk.plan import Plan, PlannedResource


def resource(stack: str, name: str, inputs: dict) -> PlannedResource:
    return PlannedResource(
        urn=f"urn:pulumi:{stack}::spark-platform::aws:s3/bucket:Bucket::{name}",
        type="aws:s3/bucket:Bucket",
        name=name,
        parent=None,
        provider=None,
        dependencies=[],
        inputs=inputs,
    )


def test_leaf_paths_with_old_and_new() -> None:
    changes = diff_values({"a": {"b": 1, "c": [1, 2]}, "gone": 1}, {"a": {"b": 2, "c": [1, 3]}, "new": True})
    assert changes == [
        PropertyChange("a.b", 1, 2),
        PropertyChange("a.c[1]", 2, 3),
        PropertyChange("gone", 1, ABSENT),
        PropertyChange("new", ABSENT, True),
    ]


def test_embedded_json_is_diffed_by_statement() -> None:
    old = '{"Statement": [{"Effect": "Allow", "Resource": "arn:aws:s3:::a"}]}'
    new = '{"Statement": [{"Effect": "Allow", "Resource": "arn:aws:s3:::b"}]}'
    assert diff_values({"policy": old}, {"policy": new}) == [
        PropertyChange("policy(json).Statement[0].Resource", "arn:aws:s3:::a", "arn:aws:s3:::b")
    ]


def test_added_removed_changed_and_stack_prefix_factored_out() -> None:
    dev = Plan(
        "dev",
        "spark-platform",
        [
            resource("dev", "logs", {"bucket": "spark-platform-dev-logs", "forceDestroy": True}),
            resource("dev", "scratch", {}),
        ],
    )
    prod = Plan(
        "prod",
        "spark-platform",
        [
            resource("prod", "logs", {"bucket": "spark-platform-prod-logs", "forceDestroy": False}),
            resource("prod", "archive", {}),
        ],
    )
    diff = diff_plans(dev, prod)
    assert [r.name for r in diff.added] == ["archive"]
    assert [r.name for r in diff.removed] == ["scratch"]
    [changed] = diff.changed
    assert changed.changes == [PropertyChange("inputs.forceDestroy", True, False)]
    assert diff_plans(dev, dev).is_empty


def test_sides_are_named_by_their_labels_and_stacks_compared_by_their_plans() -> None:
    dev = Plan("dev", "spark-platform", [resource("dev", "logs", {"bucket": "spark-platform-dev-logs"})])
    prod = Plan("prod", "spark-platform", [resource("prod", "logs", {"bucket": "spark-platform-prod-logs"})])
    from_file = diff_plans(dev, dev, labels=("dev", "out/dev.json"))
    assert (from_file.before, from_file.after, from_file.across_stacks) == ("dev", "out/dev.json", False)
    # Two files of two stacks: named by path, still compared without the stack prefix.
    across = diff_plans(dev, prod, labels=("a.json", "b.json"))
    assert (across.before, across.after, across.across_stacks, across.is_empty) == ("a.json", "b.json", True, True)
