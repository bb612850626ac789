"""The offline engine: the real program under Pulumi mocks, deterministic, with secrets masked the way the
engine marks them, and loud failures for anything it cannot answer."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from spk.engine import ProgramError, _run_program, render_plan
from spk.mocks import SECRET, SECURE_CONFIG_PLACEHOLDER
from spk.plan import Plan
from spk.stack_files import read_stack_file

SECRETS_PROGRAM = textwrap.dedent(
    """
    import pulumi
    import pulumi_aws as aws
    import pulumi_random as random

    from components.config import load_stack_settings

    settings = load_stack_settings()
    password = random.RandomPassword("db-password", length=24, special=False)
    token = pulumi.Config("spark-platform").require_secret("apiToken")
    secret = aws.secretsmanager.Secret("db-credentials")
    aws.secretsmanager.SecretVersion("db-credentials-v1", secret_id=secret.id, secret_string=password.result)
    aws.ssm.Parameter("token", type="SecureString", value=token)
    aws.ssm.Parameter("plain", type="String", value=pulumi.Output.secret("wrapped-by-output-secret"))
    pulumi.export("password", password.result)
    pulumi.export("token", token)
    pulumi.export("bucketRegion", settings.region)
    """
)


def make_project(tmp_path: Path, project_root: Path, program: str, extra_config: str = "") -> Path:
    shutil.copy(project_root / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "__main__.py").write_text(program)
    stack_text = (project_root / "Pulumi.dev.yaml").read_text()
    (tmp_path / "Pulumi.dev.yaml").write_text(stack_text.replace("config:\n", "config:\n" + extra_config, 1))
    return tmp_path


def test_plan_json_is_byte_identical_across_runs(project_root: Path, dev_plan: Plan) -> None:
    again = render_plan("dev", project_root)
    assert again.to_json() == dev_plan.to_json()
    document = json.loads(dev_plan.to_json())
    assert set(document) == {"stack", "project", "resources", "outputs"}
    assert document["project"] == "spark-platform"
    urns = [r["urn"] for r in document["resources"]]
    assert urns == sorted(urns)
    assert set(document["resources"][0]) >= {"urn", "type", "name", "parent", "provider", "dependencies", "inputs"}


def test_inputs_use_wire_names_and_capture_graph(dev_plan: Plan) -> None:
    encryption = dev_plan.get(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "warehouse-encryption",
    )
    rule = encryption.inputs["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert rule["bucketKeyEnabled"] is True
    storage = dev_plan.get("spark-platform:storage:ObjectStorage", "storage")
    assert encryption.parent == storage.urn
    key = dev_plan.get("aws:kms/key:Key", "storage-key")
    bucket = dev_plan.get("aws:s3/bucket:Bucket", "warehouse-bucket")
    assert {key.urn, bucket.urn} <= set(encryption.dependencies)


def test_policy_documents_are_rendered_to_iam_json(dev_plan: Plan) -> None:
    policy = json.loads(dev_plan.get("aws:s3/bucketPolicy:BucketPolicy", "warehouse-policy").inputs["policy"])
    bucket = dev_plan.get("aws:s3/bucket:Bucket", "warehouse-bucket").inputs["bucket"]
    assert policy["Version"] == "2012-10-17"
    [statement] = policy["Statement"]
    assert statement == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Principal": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def test_secrets_are_masked_everywhere(tmp_path: Path, project_root: Path) -> None:
    secure = "  spark-platform:apiToken:\n    secure: v1:c2VjcmV0LWJ5dGVz\n"
    root = make_project(tmp_path, project_root, SECRETS_PROGRAM, secure)
    plan = render_plan("dev", root)
    text = plan.to_json()
    # The mock's deterministic password, the wrapped value and the placeholder never appear in plaintext.
    assert "offline-randompassword" not in text
    assert "wrapped-by-output-secret" not in text
    assert SECURE_CONFIG_PLACEHOLDER not in text
    version = plan.get("aws:secretsmanager/secretVersion:SecretVersion", "db-credentials-v1")
    assert version.inputs["secretString"] == SECRET
    assert plan.get("aws:ssm/parameter:Parameter", "token").inputs["value"] == SECRET
    assert plan.get("aws:ssm/parameter:Parameter", "plain").inputs["value"] == SECRET
    assert plan.outputs["password"] == SECRET
    assert plan.outputs["token"] == SECRET
    assert plan.outputs["bucketRegion"] == "us-east-1"
    password = plan.get("random:index/randomPassword:RandomPassword", "db-password")
    assert "result" in password.options["additionalSecretOutputs"]


def test_unknown_provider_function_fails_loudly(tmp_path: Path, project_root: Path) -> None:
    program = "import pulumi_aws as aws\naws.ec2.get_ami_output(most_recent=True, owners=['amazon'])\n"
    root = make_project(tmp_path, project_root, program)
    with pytest.raises(ProgramError, match=r"aws:ec2/getAmi:getAmi.*has no mock"):
        render_plan("dev", root)


def test_kubernetes_resources_need_an_explicit_provider(tmp_path: Path, project_root: Path) -> None:
    program = "import pulumi_kubernetes as k8s\nk8s.core.v1.Namespace('stray', metadata={'name': 'stray'})\n"
    root = make_project(tmp_path, project_root, program)
    with pytest.raises(ProgramError, match=r"(?s)turns off the default kubernetes provider.*Namespace::stray"):
        render_plan("dev", root)


def test_bad_config_under_pulumi_is_a_run_error(tmp_path: Path, project_root: Path) -> None:
    root = make_project(tmp_path, project_root, (project_root / "__main__.py").read_text())
    stack_file = root / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text().replace("azCount: 2", "azCount: 9"))
    # Bypass spk's own validation: this is what `pulumi up` would run into.
    with pytest.raises(ProgramError) as raised:
        _run_program(root, read_stack_file(root, "dev"), "us-east-1")
    assert "Pulumi.dev.yaml: spark-platform:platform.network.azCount: expected less than or equal to 6" in str(
        raised.value
    )
    assert "Traceback" not in str(raised.value)
