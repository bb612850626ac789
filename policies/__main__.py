"""CrossGuard entry point: `pulumi preview --policy-pack policies`. The validators live in
spark_platform_policies (shared with `spk policy`); this file only wraps them in a PolicyPack."""

import sys
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parent
# The validators package sits beside this file; they read the node-pool label contract from the project's
# components/contracts.py (pure data, no dependencies).
sys.path[:0] = [str(PACK_DIR), str(PACK_DIR.parent)]

from pulumi_policy import PolicyPack  # noqa: E402
from spark_platform_policies import PACK_NAME  # noqa: E402
from spark_platform_policies.crossguard import stack_policies  # noqa: E402

PolicyPack(name=PACK_NAME, policies=stack_policies())
