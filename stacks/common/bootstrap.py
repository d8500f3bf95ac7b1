"""Host bootstrap: every app/worker VM converges with the same Ansible roles as the local target.

At first boot the VM writes /etc/tierstack/vars.yml (the variables format shared with
playbooks/), installs ansible-core in a virtualenv and runs `ansible-pull` of this repository; a
systemd timer re-converges every 30 minutes so hosts heal drift. AWS and Azure take the script
wrapped as cloud-config user data; GCP takes it as a startup script.
"""

from __future__ import annotations

import base64
import importlib
import shlex
from collections.abc import Mapping

import pulumi
import yaml

from stacks.blueprints import BLUEPRINTS
from stacks.common.args import StackContext

ANSIBLE_CORE_VERSION = "2.19.14"  # keep in step with uv.lock
CONVERGE_INTERVAL = "30min"


def host_vars(context: StackContext, tier: str, app_env: Mapping[str, str]) -> dict[str, object]:
    """The variables file the playbooks read (tierstack_* and python_app_env), plus the role
    variables only the cloud knows: where its load balancers and health checks connect from
    (the host firewall must admit them) and which time source its network lets hosts reach."""
    settings = context.settings
    cloud = importlib.import_module(f"stacks.{settings.cloud}.common")
    blueprint = BLUEPRINTS[settings.app]()
    app_port = blueprint.app.port if blueprint.app and tier == "app" else None
    return {
        "tierstack_app": settings.app,
        "tierstack_tier": tier,
        "tierstack_env": settings.env,
        "tierstack_network_cidr": settings.network_cidr,
        "python_app_env": dict(sorted(app_env.items())),
        **cloud.host_role_vars(app_port),
    }


def render_script(context: StackContext, variables: Mapping[str, object]) -> str:
    """The boot script itself: plain bash, idempotent, safe to run again."""
    settings = context.settings
    playbook = f"playbooks/{settings.app}.yml"
    pull = " ".join(
        shlex.quote(part)
        for part in (
            "/opt/ansible/bin/ansible-pull",
            "--url",
            settings.repo_url,
            "--checkout",
            settings.repo_ref,
            "--directory",
            "/var/lib/tierstack/repo",
            "--inventory",
            "localhost,",
            "--connection",
            "local",
            "--extra-vars",
            "@/etc/tierstack/vars.yml",
            playbook,
        )
    )
    vars_yaml = yaml.safe_dump(dict(variables), sort_keys=True, default_flow_style=False)
    return f"""#!/bin/bash
# tierstack bootstrap: converge this host with the repository's Ansible roles.
set -euo pipefail
umask 027
install -d -m 0750 /etc/tierstack /var/lib/tierstack
cat > /etc/tierstack/vars.yml <<'TIERSTACK_VARS'
{vars_yaml}TIERSTACK_VARS
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends git python3-venv ca-certificates
[ -x /opt/ansible/bin/ansible-pull ] || {{
    python3 -m venv /opt/ansible
    /opt/ansible/bin/pip install --quiet 'ansible-core=={ANSIBLE_CORE_VERSION}'
}}
cat > /etc/systemd/system/tierstack-converge.service <<'UNIT'
[Unit]
Description=Converge this host with the tierstack Ansible roles
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart={pull}
UNIT
cat > /etc/systemd/system/tierstack-converge.timer <<'UNIT'
[Unit]
Description=Re-converge this host periodically

[Timer]
OnBootSec=5min
OnUnitActiveSec={CONVERGE_INTERVAL}
RandomizedDelaySec=5min

[Install]
WantedBy=timers.target
UNIT
systemctl daemon-reload
systemctl enable tierstack-converge.timer
systemctl start tierstack-converge.service
"""


def render_cloud_config(script: str) -> str:
    """cloud-config user data that runs the script once, at first boot."""
    document = {
        "package_update": False,
        "write_files": [
            {
                "path": "/var/lib/cloud/scripts/tierstack-bootstrap.sh",
                "permissions": "0700",
                "content": script,
            }
        ],
        "runcmd": [["/bin/bash", "/var/lib/cloud/scripts/tierstack-bootstrap.sh"]],
    }
    return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False, width=1000)


def bootstrap_script(
    context: StackContext, tier: str, app_env: Mapping[str, pulumi.Input[str]]
) -> pulumi.Output[str]:
    """The boot script with the components' resolved names filled in."""
    names = sorted(app_env)
    values = pulumi.Output.all(*(app_env[name] for name in names))
    return values.apply(
        lambda resolved: render_script(
            context, host_vars(context, tier, dict(zip(names, resolved, strict=True)))
        )
    )


def cloud_config_base64(script: pulumi.Input[str]) -> pulumi.Output[str]:
    """For launch templates and scale sets, which take base64 user data."""
    return pulumi.Output.from_input(script).apply(
        lambda text: base64.b64encode(render_cloud_config(text).encode()).decode()
    )
