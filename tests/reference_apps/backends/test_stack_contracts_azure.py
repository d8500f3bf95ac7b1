"""Stack <-> app contracts on Azure: each Azure stack's blob containers are created in Azurite from
the stack's own resolved inputs, and each tier's object store, opened from the environment the
stack writes into the tier's vars.yml, runs against it: the readiness check and the
object-store contract (read-write) or a listing (read).

Azurite does not evaluate Azure RBAC, so every Blob service operation the backend sends is
recorded and must be allowed by the roles the stack assigns to that tier's managed identity on
that container (or its account): two tables below, written from Microsoft's documentation, stand
in for the RBAC evaluator (an in-process stand-in: no RBAC-enforcing Azure emulator exists). Each
Cosmos DB table is created in Azurite's Table service, which speaks the same Table API, and the
tier's key-value backend runs against it; its data-plane grant is checked on the assignment.
The database is created in a local PostgreSQL server (TLS and passwords only) from the stack's
names and generated password, and the app's schema and queries run there. Key Vault has no
emulator here: the tier's secret references are resolved by the app's own reader from a stand-in
holding exactly the secrets the stack creates, and checked against the tier's assignments.
Service Bus has no emulator here; its grants are checked by the Azure stack tests
(tests/stacks/azure)."""

from __future__ import annotations

import base64
import functools
import re
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import yaml
from azure.storage.blob import BlobServiceClient
from backend_contracts import kv_contract, object_store_contract
from database_contract import admin_step_env, database_contract, provision, revealed

from reference_apps.backends import Settings, open_backends
from reference_apps.backends import secrets as secret_refs
from reference_apps.backends.settings import parse_url
from stacks.azure.common import COSMOS_TABLE_ROLES, ROLES
from stacks.blueprints import BLUEPRINTS
from tests.playbook_check import boot_vars
from tests.stacks.harness import Run, run_stack, stack_config, stack_names
from tierstack.mocks.azure import INVOKES, computed

STACKS = stack_names("azure")

CONTAINERS = "Microsoft.Storage/storageAccounts/blobServices/containers"
# Actions and data actions of the built-in roles the stacks assign ("Azure built-in roles",
# Storage section, learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage).
ROLE_ACTIONS: dict[str, set[str]] = {
    ROLES["storage-blob-data-reader"]: {f"{CONTAINERS}/read", f"{CONTAINERS}/blobs/read"},
    ROLES["storage-blob-data-contributor"]: {
        f"{CONTAINERS}/read",
        f"{CONTAINERS}/write",
        f"{CONTAINERS}/delete",
        f"{CONTAINERS}/blobs/read",
        f"{CONTAINERS}/blobs/write",
        f"{CONTAINERS}/blobs/delete",
        f"{CONTAINERS}/blobs/add/action",
        f"{CONTAINERS}/blobs/move/action",
    },
}
ROLE_ACTIONS[ROLES["storage-blob-data-owner"]] = ROLE_ACTIONS[
    ROLES["storage-blob-data-contributor"]
]

# Permission each Blob service operation needs with Microsoft Entra ID ("Authorize access to
# blobs using Microsoft Entra ID": permissions for calling data operations,
# learn.microsoft.com/rest/api/storageservices/authorize-with-azure-active-directory).
BLOB_OPERATIONS: list[tuple[str, re.Pattern[str], set[str]]] = [
    # (HTTP method, query that names the operation, actions)
    ("GET", re.compile(r"restype=container(?!.*comp=)"), {f"{CONTAINERS}/read"}),  # properties
    ("GET", re.compile(r"restype=container.*comp=list"), {f"{CONTAINERS}/blobs/read"}),
    ("GET", re.compile(r"^(?!.*restype=)"), {f"{CONTAINERS}/blobs/read"}),  # Get Blob
    ("HEAD", re.compile(r"^(?!.*restype=)"), {f"{CONTAINERS}/blobs/read"}),  # properties
    ("PUT", re.compile(r"^(?!.*restype=)"), {f"{CONTAINERS}/blobs/write"}),  # Put Blob
    ("DELETE", re.compile(r"^(?!.*restype=)"), {f"{CONTAINERS}/blobs/delete"}),
]


@functools.cache
def stack_run(stack: str) -> Run:
    return run_stack(stack, computed=computed, invokes=INVOKES)


def _tiers() -> list[tuple[str, str]]:
    cases = []
    for stack in STACKS:
        blueprint = BLUEPRINTS[stack_config(stack)["tierstack:app"]]()
        tiers = [t.name for t in (blueprint.app, *blueprint.workers) if t]
        cases += [(stack, t) for t in tiers if "OBJECT_STORE_URL" in _uses(stack, t)]
    return cases


def _uses(stack: str, tier: str) -> dict[str, str]:
    blueprint = BLUEPRINTS[stack_config(stack)["tierstack:app"]]()
    spec = next(t for t in (blueprint.app, *blueprint.workers) if t and t.name == tier)
    return {use.env_var: use.access for use in spec.uses if use.env_var}


def _vars(run: Run, tier: str) -> dict[str, Any]:
    """The tier's vars.yml (cloud-config user data)."""
    scale_set = run.one("azure-native:compute:VirtualMachineScaleSet", f"{tier}-vmss")
    custom = scale_set.inputs["virtualMachineProfile"]["osProfile"]["customData"]
    document = yaml.safe_load(base64.b64decode(custom).decode())
    return boot_vars(document["write_files"][0]["content"])


def _env(run: Run, tier: str) -> dict[str, str]:
    """The app environment the stack writes into the tier's vars.yml."""
    return {key: str(value) for key, value in _vars(run, tier)["python_app_env"].items()}


def _granted(run: Run, tier: str) -> dict[str, set[str]]:
    """Container name -> actions the tier's identity holds on it (assigned on the container or
    on its storage account)."""
    identity = run.one("azure-native:managedidentity:UserAssignedIdentity", f"{tier}-identity-mi")
    principal = identity.outputs["principalId"]
    containers = {
        f"{c.name}-id": c.inputs["containerName"]
        for c in run.of_type("azure-native:storage:BlobContainer")
    }
    accounts = {f"{a.name}-id" for a in run.of_type("azure-native:storage:StorageAccount")}
    granted: dict[str, set[str]] = {}
    for assignment in run.of_type("azure-native:authorization:RoleAssignment"):
        inputs = assignment.inputs
        role = inputs["roleDefinitionId"].rsplit("/", 1)[1]
        if inputs["principalId"] != principal or role not in ROLE_ACTIONS:
            continue
        scope = inputs["scope"]
        names = [containers[scope]] if scope in containers else []
        if scope in accounts:  # an account-wide grant covers every container
            names = list(containers.values())
        for name in names:
            granted.setdefault(name, set()).update(ROLE_ACTIONS[role])
    return granted


def _operation(method: str, url: str) -> tuple[str, set[str]]:
    """(container, actions) of one Blob service request to Azurite
    (http://host:port/<account>/<container>[/<blob>]?query)."""
    path, _, query = url.partition("?")
    parts = path.split("/", 5)  # '', '', host, account, container, blob
    container = parts[4]
    for verb, pattern, actions in BLOB_OPERATIONS:
        if verb == method and pattern.search(query if len(parts) == 5 else f"blob&{query}"):
            if len(parts) == 5 and "restype=container" not in query:
                continue
            return container, actions
    pytest.fail(f"unlisted Blob service call {method} {url}: add it to BLOB_OPERATIONS")


@functools.cache
def _deployed(stack: str, connection: str) -> None:
    service = BlobServiceClient.from_connection_string(connection)
    for container in stack_run(stack).of_type("azure-native:storage:BlobContainer"):
        service.create_container(container.inputs["containerName"])


@pytest.mark.parametrize(("stack", "tier"), _tiers())
def test_tier_object_store_calls_only_what_the_stack_assigns(
    stack: str, tier: str, azurite_connection_string: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    uses = _uses(stack, tier)
    _deployed(stack, azurite_connection_string)
    run = stack_run(stack)
    env = {"OBJECT_STORE_URL": _env(run, tier)["OBJECT_STORE_URL"]}
    granted = _granted(run, tier)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite_connection_string)
    made: list[tuple[str, str, set[str]]] = []
    send = requests.Session.request

    def request(self: requests.Session, method: str, url: str, *args: Any, **kw: Any) -> Any:
        made.append((f"{method} {url}", *_operation(method, url)))
        return send(self, method, url, *args, **kw)

    monkeypatch.setattr(requests.Session, "request", request)
    objects = open_backends(
        Settings.from_env(tier, env, web=False), queue=False, kv=False, db=False, mail=False
    ).objects
    objects.check()  # what /readyz runs
    if uses["OBJECT_STORE_URL"] == "read-write":
        object_store_contract(objects)
    else:
        objects.list()
    monkeypatch.undo()

    assert made, f"{tier}: the object store made no call at all"
    refused = [
        (call, container, sorted(actions))
        for call, container, actions in made
        if not actions <= granted.get(container, set())
    ]
    assert refused == [], f"{stack} {tier}: Azure RBAC would refuse these calls"


def _kv_tiers() -> list[tuple[str, str]]:
    cases = []
    for stack in STACKS:
        blueprint = BLUEPRINTS[stack_config(stack)["tierstack:app"]]()
        tiers = [t.name for t in (blueprint.app, *blueprint.workers) if t]
        cases += [(stack, t) for t in tiers if "KV_URL" in _uses(stack, t)]
    return cases


@pytest.mark.parametrize(("stack", "tier"), _kv_tiers())
def test_tier_key_value_table_is_the_table_the_stack_creates_and_grants(
    stack: str, tier: str, azurite_connection_string: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Cosmos DB table is created in Azurite's Table service (the API the Cosmos Table
    endpoint speaks) under the name the stack gives it, and the tier's backend, opened from its
    KV_URL, runs the key-value contract there: a table name the URL and the stack disagree on
    fails. Azurite does not evaluate Cosmos DB data-plane RBAC, so the grant is checked on the
    assignment alone: the tier holds Cosmos DB Built-in Data Contributor (writes) or Reader on
    the very account its URL names ("Configure role-based access control with Microsoft Entra
    ID for Azure Cosmos DB for Table", learn.microsoft.com/azure/cosmos-db/table/security/
    how-to-grant-data-plane-role-based-access)."""
    from azure.data.tables import TableServiceClient

    run = stack_run(stack)
    access = _uses(stack, tier)["KV_URL"]
    url = _env(run, tier)["KV_URL"]
    [table] = [
        t.inputs
        for t in run.of_type("azure-native:cosmosdb:TableResourceTable")
        if url.startswith(f"aztable://{t.inputs['accountName']}/")
    ]
    assert url == f"aztable://{table['accountName']}/{table['tableName']}?service=cosmos"
    service = TableServiceClient.from_connection_string(azurite_connection_string)
    service.delete_table(table["resource"]["id"])
    service.create_table(table["resource"]["id"])
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite_connection_string)
    kv = open_backends(
        Settings.from_env(tier, {"KV_URL": url}, web=False),
        queue=False,
        kv=True,
        db=False,
        mail=False,
    ).kv
    assert kv is not None
    kv.check()  # what /readyz runs
    if access == "read-write":
        kv_contract(kv)
    else:
        assert kv.get("absent") is None

    identity = run.one("azure-native:managedidentity:UserAssignedIdentity", f"{tier}-identity-mi")
    account_id = next(
        f"{a.name}-id"
        for a in run.of_type("azure-native:cosmosdb:DatabaseAccount")
        if a.inputs["accountName"] == table["accountName"]
    )
    roles = {
        a.inputs["roleDefinitionId"].rsplit("/", 1)[1]
        for a in run.of_type("azure-native:cosmosdb:TableResourceTableRoleAssignment")
        if a.inputs["principalId"] == identity.outputs["principalId"]
        and a.inputs["scope"] == account_id
    }
    assert roles == {COSMOS_TABLE_ROLES[access]}, f"{stack} {tier}: {roles}"


class _KeyVault:
    """Key Vault holding what the stack stores: each secret it creates, in the vault it names,
    with the value it sets; any other vault or secret name is SecretNotFound. Records the
    resource of each read (`<vault resource>/secrets/<name>`, as role assignments scope it). No
    Key Vault emulator exists here: this checks names and grants, not calls."""

    def __init__(self, run: Run) -> None:
        vaults = {v.inputs["vaultName"]: f"{v.name}-id" for v in run.of_type(VAULT)}
        self.values: dict[tuple[str, str], str] = {
            (f"https://{s.inputs['vaultName']}.vault.azure.net", s.inputs["secretName"]): (
                revealed(s.inputs["properties"])["value"]
            )
            for s in run.of_type("azure-native:keyvault:Secret")
        }
        self.scopes = {
            (f"https://{name}.vault.azure.net", secret): f"{vault_id}/secrets/{secret}"
            for name, vault_id in vaults.items()
            for _, secret in self.values
        }
        self.read: list[str] = []

    def client(self, vault_url: str) -> Any:
        def get_secret(name: str) -> Any:
            if (vault_url, name) not in self.values:
                raise LookupError(f"SecretNotFound: {vault_url} {name}")
            self.read.append(self.scopes[vault_url, name])
            return SimpleNamespace(value=self.values[vault_url, name])

        return SimpleNamespace(get_secret=get_secret)


VAULT = "azure-native:keyvault:Vault"


def _secrets_user_scopes(run: Run, tier: str) -> set[str]:
    """Scopes on which the tier's identity holds Key Vault Secrets User ("Azure built-in roles
    for Security", learn.microsoft.com/azure/role-based-access-control/built-in-roles/security:
    read secret contents); a vault-wide assignment covers each of its secrets."""
    identity = run.one("azure-native:managedidentity:UserAssignedIdentity", f"{tier}-identity-mi")
    scopes = {
        a.inputs["scope"]
        for a in run.of_type("azure-native:authorization:RoleAssignment")
        if a.inputs["principalId"] == identity.outputs["principalId"]
        and a.inputs["roleDefinitionId"].rsplit("/", 1)[1] == ROLES["key-vault-secrets-user"]
    }
    return scopes


def _covered(scope: str, granted: set[str]) -> bool:
    return scope in granted or scope.split("/secrets/", 1)[0] in granted


def _all_tiers() -> list[tuple[str, str]]:
    cases = []
    for stack in STACKS:
        blueprint = BLUEPRINTS[stack_config(stack)["tierstack:app"]]()
        cases += [(stack, t.name) for t in (blueprint.app, *blueprint.workers) if t]
    return cases


@pytest.mark.parametrize(
    ("stack", "tier"), [c for c in _all_tiers() if "DATABASE_URL" in _uses(*c)]
)
def test_tier_database_is_the_database_the_stack_creates(
    stack: str, tier: str, postgres_tls: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The Flexible Server's database and administrator login, with the password the stack
    generated, are created in a local PostgreSQL server that, like the server
    (require_secure_transport), takes only TLS with a password; the tier's DATABASE_URL, with
    only its host and port (the server's FQDN) pointed there and its sslrootcert at the test CA,
    opens the app's database: cloud-drive's schema migration, a registration and a login run as
    that login in that database. Its DATABASE_PASSWORD_REF is read from a stand-in holding
    exactly the Key Vault secrets the stack creates (no Key Vault emulator exists here), and the
    tier's identity must hold Key Vault Secrets User on that secret."""
    run = stack_run(stack)
    [server] = run.of_type("azure-native:dbforpostgresql:Server")
    [database] = run.of_type("azure-native:dbforpostgresql:Database")
    assert database.inputs["serverName"] == server.inputs["serverName"]
    name, login = database.inputs["databaseName"], server.inputs["administratorLogin"]
    provision(
        postgres_tls.admin_dsn, name, login, revealed(server.inputs["administratorLoginPassword"])
    )
    vault = _KeyVault(run)
    monkeypatch.setattr(secret_refs, "azure_client", vault.client)
    database_contract(
        _env(run, tier),
        admin=admin_step_env(_vars(run, tier)),
        # Flexible Server's host name is <server>.postgres.database.azure.com, port 5432
        # ("Connect ... Azure Database for PostgreSQL flexible server",
        # learn.microsoft.com/azure/postgresql/flexible-server/quickstart-create-server).
        endpoint=f"{server.inputs['serverName']}.postgres.database.azure.com:5432",
        port=postgres_tls.port,
        ca_file=postgres_tls.ca_file,
        sslmode="verify-full",
        database=name,
        user=login,
        tmp_path=tmp_path,
    )
    granted = _secrets_user_scopes(run, tier)
    assert vault.read, f"{tier}: the password was not read from Key Vault"
    assert [s for s in vault.read if not _covered(s, granted)] == []


@pytest.mark.parametrize(("stack", "tier"), _all_tiers())
def test_tier_secret_references_name_secrets_the_stack_creates_and_grants(
    stack: str, tier: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every *_REF the tier gets (SECRET_KEY_REF, DATABASE_PASSWORD_REF, SMTP_PASSWORD_REF) is
    read by the app's own resolver from a stand-in holding exactly the Key Vault secrets the
    stack creates, in the vault it creates, and yields the value the stack stored; the tier's
    identity holds Key Vault Secrets User on each. No Key Vault emulator exists here, so this
    checks names and grants, not calls."""
    run = stack_run(stack)
    env = _env(run, tier)
    references = [k for k in env if k.endswith("_REF")]
    vault = _KeyVault(run)
    monkeypatch.setattr(secret_refs, "azure_client", vault.client)
    resolved = secret_refs.resolve_references(env)
    assert len(vault.read) == len(references), references
    granted = _secrets_user_scopes(run, tier)
    assert [s for s in vault.read if not _covered(s, granted)] == [], f"{stack} {tier}"
    if "SECRET_KEY_REF" in env:
        assert resolved["SECRET_KEY"] in vault.values.values()


class _ServiceBusClient:
    """Records which entities the app's Service Bus adapter opens. No Service Bus emulator runs
    here: this checks names and grants, not calls."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, str]] = []

    def get_queue_sender(self, queue: str) -> object:
        self.opened.append(("sender", queue))
        return object()

    def get_queue_receiver(self, queue: str) -> object:
        self.opened.append(("receiver", queue))
        return object()


# The role each access needs on the queue ("Azure built-in roles for Integration",
# learn.microsoft.com/azure/role-based-access-control/built-in-roles/integration: Azure Service
# Bus Data Sender sends, Data Receiver receives, completes and dead-letters).
SERVICE_BUS_ROLE = {
    "publish": ROLES["service-bus-data-sender"],
    "consume": ROLES["service-bus-data-receiver"],
}


@pytest.mark.parametrize(("stack", "tier"), [c for c in _all_tiers() if "QUEUE_URL" in _uses(*c)])
def test_tier_queue_is_the_service_bus_queue_the_stack_creates_and_grants(
    stack: str, tier: str
) -> None:
    from reference_apps.backends.queue.azure import ServiceBusQueue

    run = stack_run(stack)
    url = parse_url("QUEUE_URL", _env(run, tier)["QUEUE_URL"], ("servicebus",))
    client = _ServiceBusClient()
    queue = ServiceBusQueue(url.netloc, url.path_parts[0], 5, 60, client=client)
    assert queue.queue == url.path_parts[0]
    [namespace] = run.of_type("azure-native:servicebus:Namespace")
    [created] = run.of_type("azure-native:servicebus:Queue")
    assert url.netloc == namespace.inputs["namespaceName"]
    assert client.opened == [
        ("sender", created.inputs["queueName"]),
        ("receiver", created.inputs["queueName"]),
    ]
    identity = run.one("azure-native:managedidentity:UserAssignedIdentity", f"{tier}-identity-mi")
    roles_on_queue = {
        a.inputs["roleDefinitionId"].rsplit("/", 1)[1]
        for a in run.of_type("azure-native:authorization:RoleAssignment")
        if a.inputs["principalId"] == identity.outputs["principalId"]
        and a.inputs["scope"] == f"{created.name}-id"  # the mocks' id of the queue
    }
    assert roles_on_queue == {SERVICE_BUS_ROLE[_uses(stack, tier)["QUEUE_URL"]]}
