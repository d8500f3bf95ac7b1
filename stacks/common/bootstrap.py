"""Host bootstrap: every app/worker VM converges with the same Ansible roles as the local target.

At first boot the VM writes /etc/tierstack/vars.yml (the variables format shared with
playbooks/), clones this repository at `repoRef`, installs ansible-core from the repository's
hash-pinned requirements (pip --require-hashes: a VM never installs a moving target) and runs
`ansible-pull` of `playbooks/<blueprint>.yml` with Mitogen's strategy (pinned with it) through a
systemd service; a timer re-converges every 30 minutes so hosts heal drift. The playbooks use
only ansible.builtin modules on the cloud path, so ansible-core (and Mitogen, for speed) is all a
VM needs. AWS and Azure take the script wrapped as
cloud-config user data; GCP takes it as a startup script. `tierstack boot-script` prints it.
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

CONVERGE_INTERVAL = "30min"
REPO_DIR = "/var/lib/tierstack/repo"
ANSIBLE_VENV = "/opt/ansible"
ANSIBLE_REQUIREMENTS = "playbooks/requirements-ansible.txt"
"""ansible-core and its dependencies with hashes, exported from uv.lock (`make requirements`)."""


def host_vars(
    context: StackContext,
    tier: str,
    app_env: Mapping[str, str],
    worker_tier: str = "",
    role_vars: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The variables file the playbooks read (tierstack_* and python_app_env), plus the role
    variables only the cloud knows: where its load balancers and health checks connect from
    (the host firewall must admit them) and which time source its network lets hosts reach.
    A worker VM also gets its blueprint tier's name: it runs that tier's consumer and no other
    (its identity is granted for that one). `role_vars` are what the tier's backends ask of
    its hosts (a database's CA certificate), on top of the cloud's."""
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
        **({"tierstack_worker_tier": worker_tier} if worker_tier else {}),
        **cloud.host_role_vars(app_port),
        **(role_vars or {}),
    }


def converge_command(context: StackContext) -> str:
    """ansible-pull as the converge service runs it (the unit sets the interpreter)."""
    settings = context.settings
    return " ".join(
        shlex.quote(part)
        for part in (
            f"{ANSIBLE_VENV}/bin/ansible-pull",
            "--url",
            settings.repo_url,
            "--checkout",
            settings.repo_ref,
            "--directory",
            REPO_DIR,
            "--inventory",
            "localhost,",
            "--limit",
            "localhost",
            "--connection",
            "local",
            "--extra-vars",
            "@/etc/tierstack/vars.yml",
            f"playbooks/{settings.app}.yml",
        )
    )


def render_script(context: StackContext, variables: Mapping[str, object]) -> str:
    """The boot script itself: plain bash, idempotent, safe to run again; network steps retry
    (a VM can boot before its NAT route or DNS is ready)."""
    settings = context.settings
    vars_yaml = yaml.safe_dump(dict(variables), sort_keys=True, default_flow_style=False)
    url, ref = shlex.quote(settings.repo_url), shlex.quote(settings.repo_ref)
    return f"""#!/bin/bash
# tierstack bootstrap: converge this host with the repository's Ansible roles.
# Logs: journalctl -u tierstack-converge (each converge); this script's in the cloud's boot log.
set -euo pipefail
umask 027
retry() {{
    local attempt
    for attempt in 1 2 3 4 5 6; do
        "$@" && return 0
        echo "tierstack bootstrap: '$*' failed (attempt $attempt), retrying" >&2
        sleep $((attempt * 5))
    done
    return 1
}}
install -d -m 0750 /etc/tierstack /var/lib/tierstack
cat > /etc/tierstack/vars.yml <<'TIERSTACK_VARS'
{vars_yaml}TIERSTACK_VARS
export DEBIAN_FRONTEND=noninteractive
if ! command -v git >/dev/null || ! python3 -c 'import ensurepip' 2>/dev/null; then
    # --error-on=any: a mirror that did not answer fails the step (and retries) instead of
    # leaving an empty index behind a zero exit.
    retry apt-get update -qq --error-on=any
    retry apt-get install -y -qq --no-install-recommends git python3-venv ca-certificates
fi
if [ ! -d {REPO_DIR}/.git ]; then
    rm -rf {REPO_DIR}
    retry git clone --quiet --no-checkout {url} {REPO_DIR}
fi
retry git -C {REPO_DIR} fetch --quiet --tags origin
commit="$(git -C {REPO_DIR} rev-parse --verify --quiet "origin/"{ref}"^{{commit}}" \
    || git -C {REPO_DIR} rev-parse --verify {ref}"^{{commit}}")"
git -C {REPO_DIR} checkout --quiet --force --detach "$commit"
# ansible-core exactly as pinned in the repository at this commit; rebuilt when the pins change.
pins="$(sha256sum < {REPO_DIR}/{ANSIBLE_REQUIREMENTS})"
if [ "$(cat {ANSIBLE_VENV}/.tierstack-pins 2>/dev/null)" != "$pins" ]; then
    rm -rf {ANSIBLE_VENV}
    python3 -m venv {ANSIBLE_VENV}
    retry {ANSIBLE_VENV}/bin/python -m pip install --quiet --disable-pip-version-check \\
        --require-hashes --only-binary=:all: -r {REPO_DIR}/{ANSIBLE_REQUIREMENTS}
    echo "$pins" > {ANSIBLE_VENV}/.tierstack-pins
fi
# Mitogen's strategy (pinned with ansible-core): one interpreter per converge instead of one per
# task, about half the CPU of every converge the timer runs.
strategies="$({ANSIBLE_VENV}/bin/python -c \\
    'import os, ansible_mitogen.plugins.strategy as s; print(os.path.dirname(s.__file__))')"
{{
cat <<'UNIT'
[Unit]
Description=Converge this host with the tierstack Ansible roles
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
# The interpreter is set, not discovered (the system one has python3-apt for the apt module).
Environment=ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_NOCOLOR=1
Environment=ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_LOCALHOST_WARNING=0
# Each task reaches the journal as it ends (`journalctl -fu tierstack-converge`), not in clumps.
Environment=PYTHONUNBUFFERED=1
# ansible-pull's checkout step limits to the VM's own names, which the inventory never has.
Environment=ANSIBLE_HOST_PATTERN_MISMATCH=ignore
ExecStart={converge_command(context)}
UNIT
echo "Environment=ANSIBLE_STRATEGY=mitogen_free ANSIBLE_STRATEGY_PLUGINS=$strategies"
}} > /etc/systemd/system/tierstack-converge.service
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
systemctl enable --now tierstack-converge.timer
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
    context: StackContext,
    tier: str,
    app_env: Mapping[str, pulumi.Input[str]],
    worker_tier: str = "",
    role_vars: Mapping[str, pulumi.Input[object]] | None = None,
) -> pulumi.Output[str]:
    """The boot script with the components' resolved names (and role variables) filled in."""
    names = sorted(app_env)
    extra = dict(role_vars or {})
    var_names = sorted(extra)
    values = pulumi.Output.all(
        *(app_env[name] for name in names), *(extra[name] for name in var_names)
    )
    return values.apply(
        lambda resolved: render_script(
            context,
            host_vars(
                context,
                tier,
                dict(zip(names, resolved[: len(names)], strict=True)),
                worker_tier,
                dict(zip(var_names, resolved[len(names) :], strict=True)),
            ),
        )
    )


def cloud_config_base64(script: pulumi.Input[str]) -> pulumi.Output[str]:
    """For launch templates and scale sets, which take base64 user data."""
    return pulumi.Output.from_input(script).apply(
        lambda text: base64.b64encode(render_cloud_config(text).encode()).decode()
    )
