"""Network: a VPC over two or more zones with public subnets (load balancer, NAT) and private
subnets (hosts, database, cluster), NAT egress and flow logs; with `sshKeyPair` set, an EC2
Instance Connect Endpoint as the operators' only way in (no agent on the hosts, no public
address, every tunnel authorised by IAM and logged by CloudTrail)."""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_aws as aws

from stacks.aws.common import allow, assume_role_policy, child, policy_json, tags
from stacks.common.args import NetworkArgs

EMR_MANAGED_TAG = {"for-use-with-amazon-emr-managed-policies": "true"}
"""EMR's v2 service policy acts only on subnets and security groups that carry this tag."""
SSH_PORT = 22
SUBNET_BITS = 4
"""Each subnet is 1/16th of the network: a /16 gives /20 subnets (4091 addresses each)."""


class Network(pulumi.ComponentResource):
    """Private by default: only the load balancer and NAT gateways live in public subnets."""

    vpc_id: pulumi.Output[str]
    cidr: str
    zones: tuple[str, ...]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    operator_access_group_id: pulumi.Output[str] | None
    """The EC2 Instance Connect Endpoint's security group: the one source host groups admit SSH
    from. None without `sshKeyPair` (no endpoint, no SSH rule anywhere)."""

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:aws:Network", name, None, opts)
        context = args.context
        self.cidr = args.cidr
        self.zones = context.settings.zones
        blocks = list(ipaddress.ip_network(args.cidr).subnets(prefixlen_diff=SUBNET_BITS))
        if len(blocks) < 2 * len(self.zones):
            raise ValueError(f"network {args.cidr} is too small for {len(self.zones)} zones")

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=tags(context, "vpc"),
            opts=child(self),
        )
        self.vpc_id = vpc.id
        # The default security group admits traffic between its members; strip all its rules.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=vpc.id, tags=tags(context, "default-sg"), opts=child(self)
        )
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags=tags(context, "igw"), opts=child(self)
        )
        public_routes = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}],
            tags=tags(context, "public"),
            opts=child(self),
        )

        # One NAT gateway per zone in prod (a zone outage keeps the others online), one in dev.
        nat_zones = len(self.zones) if context.settings.is_prod else 1
        self.public_subnet_ids = []
        # Hosts in the private subnets boot straight into apt and ansible-pull: they wait for
        # their subnet's route through the NAT gateway.
        self.egress_ready: list[pulumi.Resource] = []
        self.private_subnet_ids = []
        nat_ids: list[pulumi.Output[str]] = []
        for index, zone in enumerate(self.zones):
            public = aws.ec2.Subnet(
                f"{name}-public-{index}",
                vpc_id=vpc.id,
                cidr_block=str(blocks[index]),
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={**tags(context, f"public-{zone}"), "tier": "public"},
                opts=child(self),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{index}",
                subnet_id=public.id,
                route_table_id=public_routes.id,
                opts=child(self),
            )
            self.public_subnet_ids.append(public.id)
            if index < nat_zones:
                address = aws.ec2.Eip(
                    f"{name}-nat-{index}",
                    domain="vpc",
                    tags=tags(context, f"nat-{zone}"),
                    opts=child(self, depends_on=[gateway]),
                )
                nat = aws.ec2.NatGateway(
                    f"{name}-nat-{index}",
                    allocation_id=address.id,
                    subnet_id=public.id,
                    tags=tags(context, f"nat-{zone}"),
                    opts=child(self),
                )
                nat_ids.append(nat.id)

        for index, zone in enumerate(self.zones):
            private = aws.ec2.Subnet(
                f"{name}-private-{index}",
                vpc_id=vpc.id,
                cidr_block=str(blocks[len(self.zones) + index]),
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={**tags(context, f"private-{zone}"), "tier": "private", **EMR_MANAGED_TAG},
                opts=child(self),
            )
            routes = aws.ec2.RouteTable(
                f"{name}-private-rt-{index}",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat_ids[index % nat_zones]}],
                tags=tags(context, f"private-{zone}"),
                opts=child(self),
            )
            association = aws.ec2.RouteTableAssociation(
                f"{name}-private-{index}",
                subnet_id=private.id,
                route_table_id=routes.id,
                opts=child(self),
            )
            self.private_subnet_ids.append(private.id)
            self.egress_ready += [routes, association]

        self._flow_logs(name, args, vpc)
        self.operator_access_group_id = None
        if context.settings.ssh_key_pair:
            self.operator_access_group_id = self._instance_connect_endpoint(name, args, vpc)
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
            }
        )

    def _instance_connect_endpoint(
        self, name: str, args: NetworkArgs, vpc: aws.ec2.Vpc
    ) -> pulumi.Output[str]:
        """The endpoint in a private subnet, its group allowed SSH out to the VPC only.

        Its group needs no ingress rule: traffic reaches the endpoint from the EC2 Instance
        Connect service, and who may open a tunnel is decided by IAM (ec2-instance-connect:
        OpenTunnel). Client IP preservation is off, so the hosts see the endpoint's private
        address and their SSH rule can name its group ("Security groups for EC2 Instance Connect
        Endpoint", Amazon EC2 User Guide)."""
        context = args.context
        group = aws.ec2.SecurityGroup(
            f"{name}-operator-access",
            name=f"{context.prefix}-operator-access",
            description="EC2 Instance Connect Endpoint: SSH to the hosts, nothing else",
            vpc_id=vpc.id,
            revoke_rules_on_delete=True,
            tags=tags(context, "operator-access"),
            opts=child(self),
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-operator-access-out-ssh",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=SSH_PORT,
            to_port=SSH_PORT,
            cidr_ipv4=args.cidr,
            description="SSH to hosts inside the VPC",
            tags=tags(context, "operator-access-out-ssh"),
            opts=child(self),
        )
        aws.ec2transitgateway.InstanceConnectEndpoint(
            f"{name}-instance-connect",
            subnet_id=self.private_subnet_ids[0],
            security_group_ids=[group.id],
            preserve_client_ip=False,
            tags=tags(context, "instance-connect"),
            opts=child(self),
        )
        return group.id

    def _flow_logs(self, name: str, args: NetworkArgs, vpc: aws.ec2.Vpc) -> None:
        """All traffic to CloudWatch Logs through a role that may write to that one group."""
        context = args.context
        group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/tierstack/{context.prefix}/vpc-flow-logs",
            retention_in_days=context.settings.sizing.log_retention_days,
            tags=tags(context, "flow-logs"),
            opts=child(self),
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            assume_role_policy=assume_role_policy("vpc-flow-logs.amazonaws.com"),
            tags=tags(context, "flow-logs"),
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=group.arn.apply(
                lambda arn: policy_json(
                    [
                        allow(
                            [
                                "logs:CreateLogStream",
                                "logs:PutLogEvents",
                                "logs:DescribeLogStreams",
                            ],
                            [arn, f"{arn}:*"],
                        ),
                        # Flow logs check the destination group exists ("IAM role for publishing
                        # flow logs to CloudWatch Logs", VPC user guide); it lists, so the
                        # resource is the account's log groups.
                        allow(
                            ["logs:DescribeLogGroups"],
                            [arn.split(":log-group:")[0] + ":log-group:*"],
                        ),
                    ]
                )
            ),
            opts=child(self),
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            tags=tags(context, "flow-log"),
            opts=child(self),
        )
