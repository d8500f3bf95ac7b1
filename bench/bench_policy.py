"""Policy engine throughput: loading the pack, and evaluating all policies over a large stack."""

import sys
import time
from pathlib import Path

import pulumi_aws as aws

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tierstack.policy_engine import evaluate, load_pack  # noqa: E402
from tierstack.preview.engine import record_resources  # noqa: E402

TAGS = {"project": "bench", "env": "prod", "owner": "platform", "cost-center": "cc"}


def program(copies: int) -> None:
    for index in range(copies):
        bucket = aws.s3.Bucket(f"b{index}", tags=TAGS)
        aws.s3.BucketVersioning(
            f"v{index}", bucket=bucket.id, versioning_configuration={"status": "Enabled"}
        )
        aws.ec2.SecurityGroup(
            f"sg{index}",
            tags=TAGS,
            ingress=[
                {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"]}
            ],
        )
        aws.sqs.Queue(f"q{index}", tags=TAGS)


def main() -> None:
    started = time.perf_counter()
    pack = load_pack(ROOT / "policies")
    print(f"load pack ({len(pack.policies)} policies): {time.perf_counter() - started:.2f} s")
    records = record_resources(lambda: program(100))
    for _ in range(2):  # the second run is warm
        started = time.perf_counter()
        results = evaluate(
            records, stack="bench", project="bench", pack_dir=ROOT / "policies", config_file=None
        )
        elapsed = time.perf_counter() - started
    print(
        f"evaluate {len(records)} resources x {len(pack.policies)} policies: {elapsed:.2f} s "
        f"({len(results)} results, {1000 * elapsed / len(records):.1f} ms per resource)"
    )


if __name__ == "__main__":
    main()
