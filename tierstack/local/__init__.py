"""The local target: the blueprints on Podman systemd hosts, converged by the same Ansible
playbooks a cloud VM runs, and checked by the testinfra suite."""
