"""CrossGuard entry point: `pulumi preview --policy-pack policies`. The validators live in the installed package
`spark_platform_policies` (shared with `spk policy`; policies/requirements.txt installs this repository into the
pack's virtualenv); this file only wraps them in a PolicyPack."""

from pulumi_policy import PolicyPack
from spark_platform_policies import PACK_NAME
from spark_platform_policies.crossguard import stack_policies

PolicyPack(name=PACK_NAME, policies=stack_policies())
