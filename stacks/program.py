"""The cloud-neutral program: read the stack's settings, build its blueprint, map every
component to the chosen cloud's component of the same name (Cloud Component Model step 3)."""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import pulumi

from stacks.blueprints import BLUEPRINTS
from stacks.blueprints.model import Blueprint, Uses
from stacks.blueprints.settings import Settings, SettingsError, parse_settings
from stacks.common.args import (
    AlarmsArgs,
    AppSecretArgs,
    AppTierArgs,
    Grant,
    IoTIngestArgs,
    KeyValueTableArgs,
    LoadBalancerArgs,
    MapReduceClusterArgs,
    NetworkArgs,
    NotificationsArgs,
    ObjectStoreArgs,
    QueueArgs,
    RelationalDbArgs,
    StackContext,
    TierIdentityArgs,
    WorkerTierArgs,
)
from stacks.common.bootstrap import bootstrap_script


def read_config() -> dict[str, Any]:
    """The stack's flat config, with JSON objects and lists decoded."""
    # The language host hands config over through set_all_config; older hosts use the env.
    raw: Mapping[str, Any] = {
        **pulumi.runtime.get_config_env(),
        **pulumi.runtime.config.CONFIG.get(),
    }
    config: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and value[:1] in ("{", "["):
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        config[key] = value
    return config


def deploy(settings: Settings, stack: str) -> dict[str, Any]:
    """Declares the whole stack and returns its outputs."""
    cloud: ModuleType = importlib.import_module(f"stacks.{settings.cloud}")
    blueprint: Blueprint = BLUEPRINTS[settings.app]()
    blueprint.validate()
    context = StackContext(settings=settings, stack=stack)

    network = cloud.Network("network", NetworkArgs(context, settings.network_cidr))
    components: dict[str, pulumi.ComponentResource] = {}
    for spec in blueprint.object_stores:
        components[spec.name] = cloud.ObjectStore(
            spec.name, ObjectStoreArgs(context, spec, network=network)
        )
    for spec in blueprint.queues:
        components[spec.name] = cloud.Queue(spec.name, QueueArgs(context, spec, network=network))
    for spec in blueprint.tables:
        components[spec.name] = cloud.KeyValueTable(
            spec.name, KeyValueTableArgs(context, spec, network=network)
        )
    for spec in blueprint.databases:
        components[spec.name] = cloud.RelationalDb(
            spec.name, RelationalDbArgs(context, spec, network)
        )
    for spec in blueprint.notifications:
        components[spec.name] = cloud.Notifications(
            spec.name, NotificationsArgs(context, spec, network=network)
        )

    if blueprint.mapreduce:
        # Declared before the tiers: the job runner is granted (and told) this cluster.
        spec = blueprint.mapreduce
        components[spec.name] = cloud.MapReduceCluster(
            spec.name,
            MapReduceClusterArgs(
                context, spec, network, components[spec.code_store], components[spec.log_store]
            ),
        )

    def identity_for(
        tier: str, uses: tuple[Uses, ...], extra: tuple[Grant, ...] = ()
    ) -> pulumi.ComponentResource:
        grants = [Grant(components[use.target], use.access) for use in uses] + list(extra)
        return cloud.TierIdentity(
            f"{tier}-identity", TierIdentityArgs(context, tier, grants, network=network)
        )

    def boot_for(
        tier_kind: str,
        uses: tuple[Uses, ...],
        extra_env: Mapping[str, pulumi.Input[str]],
        worker_tier: str = "",
    ) -> pulumi.Output[str]:
        """The tier's environment: backend URLs, production mode and secret references (the
        apps read the secrets themselves, with the tier's identity; user data carries none)."""
        app_env: dict[str, pulumi.Input[str]] = {
            "APP_ENV": "production",
            **cloud.host_env(context),
            **extra_env,
        }
        role_vars: dict[str, pulumi.Input[object]] = {}
        for use in uses:
            if not use.env_var:
                continue
            app_env[use.env_var] = components[use.target].backend_url
            if use.env_var == "DATABASE_URL":
                database = components[use.target]
                app_env["DATABASE_PASSWORD_REF"] = database.password_ref
                # Root's converge step creates the app's login with the admin's password; the
                # app's environment never names the admin (blueprint_host's database_role.yml).
                role_vars["blueprint_host_database_admin_user"] = database.admin_user
                role_vars["blueprint_host_database_admin_password_ref"] = (
                    database.admin_password_ref
                )
            # What a backend needs besides its URL (Azure's SMTP relay: a username and a
            # password reference), on the clouds whose component declares it.
            app_env.update(getattr(components[use.target], "credentials_env", {}))
            # What it needs of the hosts (the CA that signed a database's certificate, for
            # sslmode=verify-full), on the clouds whose component declares it.
            role_vars.update(getattr(components[use.target], "host_role_vars", {}))
        return bootstrap_script(context, tier_kind, app_env, worker_tier, role_vars)

    tiers: list[pulumi.ComponentResource] = []
    load_balancer = None
    if blueprint.app:
        app = blueprint.app
        # One session-signing key for every app server: a session must survive the LB picking
        # another instance.
        session_key = cloud.AppSecret(
            f"{app.name}-session-key",
            AppSecretArgs(
                context,
                f"session signing key (SECRET_KEY) of the {app.name} tier",
                network=network,
            ),
        )
        load_balancer = cloud.LoadBalancer(
            "web-lb", LoadBalancerArgs(context, network, app.port, app.health_path)
        )
        tiers.append(
            cloud.AppTier(
                app.name,
                AppTierArgs(
                    context,
                    app,
                    network,
                    load_balancer,
                    identity_for(app.name, app.uses, (Grant(session_key, "read"),)),
                    boot_for("app", app.uses, {"SECRET_KEY_REF": session_key.ref}),
                ),
            )
        )
    for worker in blueprint.workers:
        tiers.append(
            cloud.WorkerTier(
                worker.name,
                WorkerTierArgs(
                    context,
                    worker,
                    network,
                    identity_for(worker.name, worker.uses),
                    components[worker.scale_on] if worker.scale_on else None,
                    boot_for("worker", worker.uses, {}, worker.name),
                ),
            )
        )
    mqtt_endpoint = None
    if blueprint.iot:
        spec = blueprint.iot
        iot = cloud.IoTIngest(
            spec.name, IoTIngestArgs(context, spec, network, components[spec.to_queue])
        )
        mqtt_endpoint = iot.endpoint

    queues = [components[q.name] for q in blueprint.queues]
    cloud.Alarms("alarms", AlarmsArgs(context, load_balancer, queues, tiers, network=network))

    outputs: dict[str, Any] = {
        "cloud": settings.cloud,
        "app": settings.app,
        "env": settings.env,
        "app_url": load_balancer.url if load_balancer else None,
        "dns_target": load_balancer.dns_target if load_balancer else None,
        "object_stores": {
            s.name: components[s.name].physical_name for s in blueprint.object_stores
        },
        "queues": {q.name: components[q.name].physical_name for q in blueprint.queues},
        "tables": {t.name: components[t.name].physical_name for t in blueprint.tables},
    }
    if mqtt_endpoint is not None:
        outputs["mqtt_endpoint"] = mqtt_endpoint  # what gateways connect to (and DNS points at)
    for spec in blueprint.databases:
        outputs["db_endpoint"] = components[spec.name].endpoint
        outputs["db_password"] = pulumi.Output.secret(components[spec.name].password)
    return outputs


def main() -> None:
    try:
        settings = parse_settings(read_config())
    except SettingsError as error:
        raise pulumi.RunError(str(error)) from None
    for key, value in deploy(settings, pulumi.get_stack()).items():
        pulumi.export(key, value)
