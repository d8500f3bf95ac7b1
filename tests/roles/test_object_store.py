"""object_store: SeaweedFS's S3 gateway, each app's key limited to its own bucket (checked with
boto3 from an app host, as the apps use it)."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.hosts

S3_PROBE = """
import json, sys, boto3, botocore
s3 = boto3.client("s3", endpoint_url="http://services:8333", region_name="us-east-1",
                  aws_access_key_id=sys.argv[1], aws_secret_access_key=sys.argv[2])
out = {}
s3.put_object(Bucket=sys.argv[3], Key="probe.txt", Body=b"hello from the probe")
out["own"] = s3.get_object(Bucket=sys.argv[3], Key="probe.txt")["Body"].read().decode()
try:
    s3.put_object(Bucket=sys.argv[4], Key="probe.txt", Body=b"x")
    out["other"] = "written"
except botocore.exceptions.ClientError as error:
    out["other"] = error.response["Error"]["Code"]
print(json.dumps(out))
"""


def test_seaweedfs_runs_as_its_own_user(hosts: dict[str, Any]) -> None:
    services = hosts["services"]
    assert services.service("seaweedfs").is_running
    assert services.service("seaweedfs").is_enabled
    assert services.process.get(comm="weed").user == "seaweedfs"
    config = services.file("/etc/seaweedfs/s3.json")
    assert (config.user, config.group, config.mode) == ("root", "seaweedfs", 0o640)


def test_buckets_exist(hosts: dict[str, Any]) -> None:
    listing = hosts["services"].check_output(
        "echo s3.bucket.list | /opt/seaweedfs/bin/weed shell -master=127.0.0.1:9333"
    )
    assert "image-processing" in listing
    assert "cloud-drive" in listing


def test_an_app_key_reaches_its_bucket_only(hosts: dict[str, Any], target: Any) -> None:
    keys = target.secrets()
    app1 = hosts["app1"]
    app1.check_output(f"cat > /tmp/s3probe.py <<'EOF'\n{S3_PROBE}\nEOF")
    result = app1.check_output(
        "/opt/tierstack/venv/bin/python /tmp/s3probe.py "
        f"{keys['cloud_drive_s3_access']} {keys['cloud_drive_s3_secret']} "
        "cloud-drive image-processing"
    )
    assert json.loads(result) == {"own": "hello from the probe", "other": "AccessDenied"}


def test_the_watchdog_runs_and_leaves_a_healthy_seaweedfs_alone(hosts: dict[str, Any]) -> None:
    """The watchdog restarts SeaweedFS only after it ran out of space (tests/e2e/test_faults.py
    fills its volume); on a healthy store a run of it changes nothing."""
    services = hosts["services"]
    timer = services.service("seaweedfs-watchdog.timer")
    assert timer.is_enabled and timer.is_running
    started = services.check_output(
        "systemctl show -p ActiveEnterTimestampMonotonic --value seaweedfs"
    )
    services.check_output("systemctl start seaweedfs-watchdog.service")
    assert (
        services.check_output("systemctl show -p Result --value seaweedfs-watchdog.service")
        == "success"
    )
    assert (
        services.check_output("systemctl show -p ActiveEnterTimestampMonotonic --value seaweedfs")
        == started
    )
