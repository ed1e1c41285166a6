//! The static table of services, resource types and operations the
//! generator draws from. Names follow the CTS documentation and console
//! (service_type upper-case acronyms, trace_name lowerCamelCase operations).

/// What an operation does to the resource it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Creates a new resource (a new id).
    Create,
    /// Changes or acts on an existing resource.
    Update,
    /// Deletes an existing resource.
    Delete,
    /// An IAM user acting on itself (login, logout, password change).
    SelfAction,
}

/// How new resources of a type are named and identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Naming {
    /// `<prefix>-<env>-<nn>`, UUID id.
    Prefixed(&'static [&'static str]),
    /// A public IPv4 as name, UUID id (EIPs).
    PublicIp,
    /// The name is the id (OBS buckets).
    NameIsId(&'static [&'static str]),
    /// A 20-character access key id as both name and id (IAM credentials).
    AccessKey,
    /// A DNS zone or record name, UUID-ish id.
    DnsName,
    /// The tenant's IAM users (id and name of a user).
    TenantUser,
    /// The single CTS tracker `system`.
    Tracker,
}

/// One operation (trace_name) on a resource type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpDef {
    pub name: &'static str,
    pub effect: Effect,
    pub weight: u32,
    pub method: &'static str,
    pub success_code: u16,
    /// Done by the platform itself (SystemAction, no user, no source IP).
    pub system: bool,
    /// Appended to the item URL (e.g. `/action`).
    pub suffix: &'static str,
}

/// One resource type (resource_type) of a service.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResourceDef {
    pub kind: &'static str,
    pub naming: Naming,
    /// Collection URL; `{project_id}` is replaced.
    pub collection: &'static str,
    /// Resources alive at generator start.
    pub initial: usize,
    /// Creates are turned into deletes above this many live resources.
    pub max_live: usize,
    pub ops: &'static [OpDef],
}

/// One CTS-connected service.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServiceDef {
    pub service_type: &'static str,
    pub api_version: &'static str,
    /// API host prefix: `https://<host>.<region>.otc.t-systems.com`.
    pub host: &'static str,
    /// Console path for ConsoleAction endpoints.
    pub console: &'static str,
    pub weight: u32,
    /// First digits of this service's error codes, e.g. `VPC.05`.
    pub error_prefix: &'static str,
    pub resources: &'static [ResourceDef],
}

const fn op(
    name: &'static str,
    effect: Effect,
    weight: u32,
    method: &'static str,
    code: u16,
) -> OpDef {
    OpDef {
        name,
        effect,
        weight,
        method,
        success_code: code,
        system: false,
        suffix: "",
    }
}

const fn act(name: &'static str, weight: u32, suffix: &'static str) -> OpDef {
    OpDef {
        name,
        effect: Effect::Update,
        weight,
        method: "POST",
        success_code: 202,
        system: false,
        suffix,
    }
}

const fn sys(name: &'static str, effect: Effect, weight: u32, code: u16) -> OpDef {
    OpDef {
        name,
        effect,
        weight,
        method: "POST",
        success_code: code,
        system: true,
        suffix: "",
    }
}

use Effect::{Create, Delete, SelfAction, Update};

pub(crate) static SERVICES: &[ServiceDef] = &[
    ServiceDef {
        service_type: "ECS",
        api_version: "v1",
        host: "ecs",
        console: "ecm",
        weight: 22,
        error_prefix: "Ecs.0",
        resources: &[ResourceDef {
            kind: "ecs",
            naming: Naming::Prefixed(&["web", "app", "db", "batch", "bastion", "worker"]),
            collection: "/v1/{project_id}/cloudservers",
            initial: 12,
            max_live: 40,
            ops: &[
                op("createServer", Create, 6, "POST", 200),
                op("deleteServer", Delete, 4, "POST", 200),
                act("startServer", 8, "/action"),
                act("stopServer", 7, "/action"),
                act("rebootServer", 5, "/action"),
                act("resizeServer", 2, "/resize"),
                op("updateServer", Update, 3, "PUT", 200),
                act("attachVolume", 3, "/attachvolume"),
                sys("autoRecoverServer", Update, 1, 200),
            ],
        }],
    },
    ServiceDef {
        service_type: "EVS",
        api_version: "v2",
        host: "evs",
        console: "ecm",
        weight: 10,
        error_prefix: "EVS.2",
        resources: &[
            ResourceDef {
                kind: "evs",
                naming: Naming::Prefixed(&["data", "log", "sys", "scratch"]),
                collection: "/v2/{project_id}/cloudvolumes",
                initial: 16,
                max_live: 60,
                ops: &[
                    op("createVolume", Create, 6, "POST", 202),
                    op("deleteVolume", Delete, 4, "DELETE", 202),
                    op("updateVolume", Update, 2, "PUT", 200),
                    act("extendVolume", 2, "/action"),
                ],
            },
            ResourceDef {
                kind: "snapshot",
                naming: Naming::Prefixed(&["snap", "backup"]),
                collection: "/v2/{project_id}/snapshots",
                initial: 4,
                max_live: 30,
                ops: &[
                    op("createSnapshot", Create, 3, "POST", 202),
                    op("deleteSnapshot", Delete, 2, "DELETE", 202),
                    sys("deleteExpiredSnapshot", Delete, 1, 202),
                ],
            },
        ],
    },
    ServiceDef {
        service_type: "VPC",
        api_version: "v1",
        host: "vpc",
        console: "vpc",
        weight: 18,
        error_prefix: "VPC.05",
        resources: &[
            ResourceDef {
                kind: "vpc",
                naming: Naming::Prefixed(&["vpc"]),
                collection: "/v1/{project_id}/vpcs",
                initial: 3,
                max_live: 8,
                ops: &[
                    op("createVpc", Create, 1, "POST", 200),
                    op("deleteVpc", Delete, 1, "DELETE", 204),
                    op("updateVpc", Update, 2, "PUT", 200),
                ],
            },
            ResourceDef {
                kind: "subnet",
                naming: Naming::Prefixed(&["subnet"]),
                collection: "/v1/{project_id}/subnets",
                initial: 6,
                max_live: 20,
                ops: &[
                    op("createSubnet", Create, 2, "POST", 200),
                    op("deleteSubnet", Delete, 1, "DELETE", 204),
                    op("updateSubnet", Update, 2, "PUT", 200),
                ],
            },
            ResourceDef {
                kind: "port",
                naming: Naming::Prefixed(&["port"]),
                collection: "/v2.0/ports",
                initial: 20,
                max_live: 80,
                ops: &[
                    op("createPort", Create, 3, "POST", 201),
                    op("deletePort", Delete, 2, "DELETE", 204),
                    op("updatePort", Update, 5, "PUT", 200),
                ],
            },
            ResourceDef {
                kind: "eip",
                naming: Naming::PublicIp,
                collection: "/v1/{project_id}/publicips",
                initial: 5,
                max_live: 20,
                ops: &[
                    op("createEip", Create, 3, "POST", 200),
                    op("deleteEip", Delete, 2, "DELETE", 204),
                    op("bindEip", Update, 3, "PUT", 200),
                    op("unbindEip", Update, 2, "PUT", 200),
                ],
            },
            ResourceDef {
                kind: "security_group",
                naming: Naming::Prefixed(&["sg"]),
                collection: "/v1/{project_id}/security-groups",
                initial: 6,
                max_live: 20,
                ops: &[
                    op("createSecurityGroup", Create, 2, "POST", 200),
                    op("deleteSecurityGroup", Delete, 1, "DELETE", 204),
                    op("createSecurityGroupRule", Update, 5, "POST", 200),
                    op("deleteSecurityGroupRule", Update, 3, "DELETE", 204),
                ],
            },
        ],
    },
    ServiceDef {
        service_type: "IAM",
        api_version: "v3",
        host: "iam",
        console: "iam",
        weight: 14,
        error_prefix: "IAM.00",
        resources: &[
            ResourceDef {
                kind: "user",
                naming: Naming::TenantUser,
                collection: "/v3/users",
                initial: 0,
                max_live: 0,
                ops: &[
                    OpDef {
                        name: "login",
                        effect: SelfAction,
                        weight: 12,
                        method: "POST",
                        success_code: 200,
                        system: false,
                        suffix: "",
                    },
                    OpDef {
                        name: "logout",
                        effect: SelfAction,
                        weight: 5,
                        method: "POST",
                        success_code: 200,
                        system: false,
                        suffix: "",
                    },
                    OpDef {
                        name: "updateUserPassword",
                        effect: SelfAction,
                        weight: 1,
                        method: "PUT",
                        success_code: 204,
                        system: false,
                        suffix: "/password",
                    },
                    op("updateUser", Update, 1, "PATCH", 200),
                ],
            },
            ResourceDef {
                kind: "credential",
                naming: Naming::AccessKey,
                collection: "/v3.0/OS-CREDENTIAL/credentials",
                initial: 6,
                max_live: 30,
                ops: &[
                    op("createCredential", Create, 2, "POST", 201),
                    op("deleteCredential", Delete, 1, "DELETE", 204),
                    op("updateCredential", Update, 1, "PUT", 200),
                ],
            },
        ],
    },
    ServiceDef {
        service_type: "OBS",
        api_version: "v1",
        host: "obs",
        console: "obs",
        weight: 8,
        error_prefix: "OBS.01",
        resources: &[ResourceDef {
            kind: "bucket",
            naming: Naming::NameIsId(&["logs", "backup", "artifacts", "static", "data"]),
            collection: "",
            initial: 5,
            max_live: 15,
            ops: &[
                op("createBucket", Create, 1, "PUT", 200),
                op("deleteBucket", Delete, 1, "DELETE", 204),
                op("setBucketPolicy", Update, 3, "PUT", 204),
                op("setBucketAcl", Update, 2, "PUT", 200),
                op("setBucketLifecycle", Update, 1, "PUT", 200),
            ],
        }],
    },
    ServiceDef {
        service_type: "CCE",
        api_version: "v3",
        host: "cce",
        console: "cce2.0",
        weight: 7,
        error_prefix: "CCE.01",
        resources: &[
            ResourceDef {
                kind: "cluster",
                naming: Naming::Prefixed(&["k8s"]),
                collection: "/api/v3/projects/{project_id}/clusters",
                initial: 2,
                max_live: 4,
                ops: &[
                    op("createCluster", Create, 1, "POST", 201),
                    op("deleteCluster", Delete, 1, "DELETE", 200),
                    op("updateCluster", Update, 3, "PUT", 200),
                ],
            },
            ResourceDef {
                kind: "nodepool",
                naming: Naming::Prefixed(&["pool"]),
                collection: "/api/v3/projects/{project_id}/nodepools",
                initial: 4,
                max_live: 12,
                ops: &[
                    op("createNodePool", Create, 2, "POST", 201),
                    op("deleteNodePool", Delete, 1, "DELETE", 200),
                    op("updateNodePool", Update, 4, "PUT", 200),
                    sys("autoScaleNodePool", Update, 4, 200),
                ],
            },
        ],
    },
    ServiceDef {
        service_type: "RDS",
        api_version: "v3",
        host: "rds",
        console: "rds",
        weight: 6,
        error_prefix: "DBS.2",
        resources: &[ResourceDef {
            kind: "instance",
            naming: Naming::Prefixed(&["pg", "mysql"]),
            collection: "/v3/{project_id}/instances",
            initial: 3,
            max_live: 8,
            ops: &[
                op("createInstance", Create, 1, "POST", 202),
                op("deleteInstance", Delete, 1, "DELETE", 202),
                act("restartInstance", 2, "/action"),
                act("resetPassword", 1, "/password"),
                act("createManualBackup", 2, "/backups"),
                sys("createAutomatedBackup", Update, 4, 200),
            ],
        }],
    },
    ServiceDef {
        service_type: "ELB",
        api_version: "v3",
        host: "elb",
        console: "vpc",
        weight: 6,
        error_prefix: "ELB.8",
        resources: &[
            ResourceDef {
                kind: "loadbalancer",
                naming: Naming::Prefixed(&["lb"]),
                collection: "/v3/{project_id}/elb/loadbalancers",
                initial: 2,
                max_live: 6,
                ops: &[
                    op("createLoadbalancer", Create, 1, "POST", 201),
                    op("deleteLoadbalancer", Delete, 1, "DELETE", 204),
                    op("updateLoadbalancer", Update, 2, "PUT", 200),
                ],
            },
            ResourceDef {
                kind: "member",
                naming: Naming::Prefixed(&["member"]),
                collection: "/v3/{project_id}/elb/pools/members",
                initial: 8,
                max_live: 30,
                ops: &[
                    op("createMember", Create, 3, "POST", 201),
                    op("deleteMember", Delete, 3, "DELETE", 204),
                    op("updateMember", Update, 1, "PUT", 200),
                ],
            },
        ],
    },
    ServiceDef {
        service_type: "DNS",
        api_version: "v2",
        host: "dns",
        console: "dns",
        weight: 4,
        error_prefix: "DNS.03",
        resources: &[ResourceDef {
            kind: "recordset",
            naming: Naming::DnsName,
            collection: "/v2/zones/recordsets",
            initial: 10,
            max_live: 40,
            ops: &[
                op("createRecordSet", Create, 3, "POST", 202),
                op("updateRecordSet", Update, 3, "PUT", 202),
                op("deleteRecordSet", Delete, 2, "DELETE", 202),
            ],
        }],
    },
    ServiceDef {
        service_type: "KMS",
        api_version: "v1.0",
        host: "kms",
        console: "dew",
        weight: 3,
        error_prefix: "KMS.03",
        resources: &[ResourceDef {
            kind: "cmk",
            naming: Naming::Prefixed(&["key"]),
            collection: "/v1.0/{project_id}/kms",
            initial: 3,
            max_live: 10,
            ops: &[
                op("createKey", Create, 1, "POST", 200),
                op("enableKey", Update, 1, "POST", 200),
                op("disableKey", Update, 1, "POST", 200),
                op("scheduleKeyDeletion", Delete, 1, "POST", 200),
                sys("rotateKey", Update, 1, 200),
            ],
        }],
    },
    ServiceDef {
        service_type: "AS",
        api_version: "v1",
        host: "as",
        console: "as",
        weight: 3,
        error_prefix: "AS.20",
        resources: &[ResourceDef {
            kind: "scaling_group",
            naming: Naming::Prefixed(&["asg"]),
            collection: "/autoscaling-api/v1/{project_id}/scaling_group",
            initial: 2,
            max_live: 5,
            ops: &[
                op("createScalingGroup", Create, 1, "POST", 200),
                op("deleteScalingGroup", Delete, 1, "DELETE", 204),
                op("updateScalingGroup", Update, 1, "PUT", 200),
                sys("executeScalingPolicy", Update, 6, 200),
            ],
        }],
    },
    ServiceDef {
        service_type: "CTS",
        api_version: "v3",
        host: "cts",
        console: "cts",
        weight: 1,
        error_prefix: "CTS.02",
        resources: &[ResourceDef {
            kind: "tracker",
            naming: Naming::Tracker,
            collection: "/v3/{project_id}/tracker",
            initial: 1,
            max_live: 1,
            ops: &[op("updateTracker", Update, 1, "PUT", 200)],
        }],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for s in SERVICES {
            assert!(
                s.service_type.chars().all(|c| c.is_ascii_uppercase()),
                "{}",
                s.service_type
            );
            assert!(s.weight > 0 && !s.resources.is_empty());
            for r in s.resources {
                assert!(
                    r.kind.len() <= 64 && r.kind.starts_with(|c: char| c.is_ascii_alphabetic())
                );
                let has_create = r.ops.iter().any(|o| o.effect == Effect::Create);
                let has_delete = r.ops.iter().any(|o| o.effect == Effect::Delete);
                let self_only = r.naming == Naming::TenantUser || r.naming == Naming::Tracker;
                assert!(
                    self_only || (has_create && has_delete),
                    "{} lacks create/delete",
                    r.kind
                );
                assert!(r.initial <= r.max_live || self_only);
                for o in r.ops {
                    assert!(o.weight > 0 && o.name.starts_with(|c: char| c.is_ascii_lowercase()));
                }
            }
        }
    }
}
