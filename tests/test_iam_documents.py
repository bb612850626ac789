"""The getPolicyDocument mock renders IAM JSON as the AWS provider does."""

from __future__ import annotations

import json

from spk.iam_documents import render_policy_document


def test_statements_render_with_provider_shapes() -> None:
    result = render_policy_document(
        {
            "statements": [
                {
                    "sid": "ReadWarehouse",
                    "actions": ["s3:GetObject", "s3:ListBucket"],
                    "resources": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                },
                {
                    "effect": "Allow",
                    "actions": ["sts:AssumeRoleWithWebIdentity"],
                    "principals": [{"type": "Federated", "identifiers": ["arn:aws:iam::1:oidc-provider/x"]}],
                    "conditions": [
                        {"test": "StringEquals", "variable": "x:sub", "values": ["system:serviceaccount:a:b"]},
                        {"test": "StringEquals", "variable": "x:aud", "values": ["sts.amazonaws.com"]},
                    ],
                },
            ]
        }
    )
    document = json.loads(result["json"])
    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadWarehouse",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            },
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Principal": {"Federated": "arn:aws:iam::1:oidc-provider/x"},
                "Condition": {"StringEquals": {"x:sub": "system:serviceaccount:a:b", "x:aud": "sts.amazonaws.com"}},
            },
        ],
    }
    assert json.loads(result["minifiedJson"]) == document
    assert result["id"].isdigit()


def test_override_documents_replace_statements_by_sid() -> None:
    base = render_policy_document({"statements": [{"sid": "A", "actions": ["s3:GetObject"], "resources": ["r"]}]})
    merged = render_policy_document(
        {
            "sourcePolicyDocuments": [base["json"]],
            "overridePolicyDocuments": [
                json.dumps({"Statement": [{"Sid": "A", "Effect": "Deny", "Action": "s3:*", "Resource": "r"}]})
            ],
        }
    )
    assert json.loads(merged["json"])["Statement"] == [
        {"Sid": "A", "Effect": "Deny", "Action": "s3:*", "Resource": "r"}
    ]
