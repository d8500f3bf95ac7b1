"""Azure resource types the policies look at (pulumi-azure-native 3 tokens)."""

STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
BLOB_CONTAINER = "azure-native:storage:BlobContainer"
BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
MANAGEMENT_POLICY = "azure-native:storage:ManagementPolicy"
NSG = "azure-native:network:NetworkSecurityGroup"
SECURITY_RULE = "azure-native:network:SecurityRule"
NIC = "azure-native:network:NetworkInterface"
VNET = "azure-native:network:VirtualNetwork"
FLOW_LOG = "azure-native:network:FlowLog"
APP_GATEWAY = "azure-native:network:ApplicationGateway"
DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"
VMSS = "azure-native:compute:VirtualMachineScaleSet"
VM = "azure-native:compute:VirtualMachine"
POSTGRES = "azure-native:dbforpostgresql:Server"
POSTGRES_CONFIGURATION = "azure-native:dbforpostgresql:Configuration"
LOCKS = (
    "azure-native:authorization:ManagementLockAtResourceLevel",
    "azure-native:authorization:ManagementLockAtResourceGroupLevel",
    "azure-native:authorization:ManagementLockByScope",
)
SB_NAMESPACE = "azure-native:servicebus:Namespace"
SB_QUEUE = "azure-native:servicebus:Queue"
SB_SUBSCRIPTION = "azure-native:servicebus:Subscription"  # a topic's queue for one reader
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
ROLE_DEFINITION = "azure-native:authorization:RoleDefinition"
AUTOSCALE = "azure-native:monitor:AutoscaleSetting"

TAGGED = (
    STORAGE_ACCOUNT,
    NSG,
    VNET,
    NIC,
    APP_GATEWAY,
    VMSS,
    VM,
    POSTGRES,
    SB_NAMESPACE,
    AUTOSCALE,
    "azure-native:resources:ResourceGroup",
    "azure-native:network:PublicIPAddress",
    "azure-native:network:NatGateway",
    "azure-native:cosmosdb:DatabaseAccount",
    "azure-native:iothub:IotHubResource",
    "azure-native:hdinsight:Cluster",
)
