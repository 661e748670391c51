//! `k8s_deploy.yaml`: a Dynamo `DynamoGraphDeployment` (frontend and one
//! service per worker role, with replicas, GPU limits and engine arguments)
//! as typed structs, plus, for TRT-LLM, a ConfigMap holding the engine
//! configs the workers mount.

use super::hardware::Hardware;
use super::plan::{Backend, Plan, Role};
use super::settings::DeployOptions;
use super::worker::{self, WorkerCommand};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// The deployment's name: `<prefix>-agg` / `<prefix>-disagg` (`-router` with KV routing).
pub fn deployment_name(plan: &Plan, opts: &DeployOptions) -> String {
    let mode = if plan.disagg() { "disagg" } else { "agg" };
    let router = if opts.enable_router(plan.prefix) {
        "-router"
    } else {
        ""
    };
    format!("{}-{mode}{router}", opts.name_prefix())
}

/// The DGD service name of a role, as Dynamo's examples spell them.
pub fn service_name(backend: Backend, role: Role) -> String {
    let b = match backend {
        Backend::Trtllm => "TRTLLM",
        Backend::Vllm => "Vllm",
        Backend::Sglang => "SGLang",
    };
    let r = match role {
        Role::Agg => "",
        Role::Prefill => "Prefill",
        Role::Decode => "Decode",
    };
    format!("{b}{r}Worker")
}

/// An ordered map (services keep frontend-first order in the file).
#[derive(Debug, Default)]
pub struct Ordered<T>(pub Vec<(String, T)>);

impl<T: Serialize> Serialize for Ordered<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: Spec,
}

#[derive(Debug, Serialize)]
pub struct Metadata {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Spec {
    pub services: Ordered<Service>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub env_from_secret: &'static str,
    pub component_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_component_type: Option<&'static str>,
    pub replicas: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_memory: Option<SharedMemory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multinode: Option<Multinode>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub envs: Vec<EnvVar>,
    pub extra_pod_spec: PodSpec,
}

#[derive(Debug, Serialize)]
pub struct Resources {
    pub limits: Limits,
}

#[derive(Debug, Serialize)]
pub struct Limits {
    /// GPUs of one pod (one node of a multinode worker), a string as Dynamo expects.
    pub gpu: String,
}

#[derive(Debug, Serialize)]
pub struct SharedMemory {
    pub size: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Multinode {
    pub node_count: u32,
}

#[derive(Debug, Serialize)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<NameRef>,
    pub node_selector: Ordered<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    pub main_container: Container,
}

#[derive(Debug, Serialize)]
pub struct NameRef {
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct Toleration {
    pub key: &'static str,
    pub operator: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub value: &'static str,
    pub effect: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    pub image_pull_policy: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    pub command: Vec<String>,
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub http_get: HttpGet,
    pub initial_delay_seconds: u32,
    pub period_seconds: u32,
    pub timeout_seconds: u32,
    pub failure_threshold: u32,
}

#[derive(Debug, Serialize)]
pub struct HttpGet {
    pub path: &'static str,
    pub port: u32,
}

/// A probe of the worker's system status server (port 9090 in Dynamo pods).
fn probe(path: &'static str, initial_delay_seconds: u32, failure_threshold: u32) -> Probe {
    Probe {
        http_get: HttpGet { path, port: 9090 },
        initial_delay_seconds,
        period_seconds: 30,
        timeout_seconds: 10,
        failure_threshold,
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    pub name: String,
    pub mount_path: String,
}

/// The ConfigMap of TRT-LLM engine configs (file name → YAML text).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMap {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub data: Ordered<String>,
}

const ENGINE_CONFIG_VOLUME: &str = "engine-configs";

fn pod_spec(
    hw: &Hardware,
    opts: &DeployOptions,
    container: Container,
    extra_volumes: Vec<serde_json::Value>,
) -> PodSpec {
    let mut volumes = extra_volumes;
    if let Some((claim, _, _)) = opts.model_cache() {
        volumes.push(serde_json::json!({"name": "model-cache", "persistentVolumeClaim": {"claimName": claim}}));
    }
    PodSpec {
        volumes,
        image_pull_secrets: opts
            .image_pull_secret()
            .map(|s| {
                vec![NameRef {
                    name: s.to_string(),
                }]
            })
            .unwrap_or_default(),
        node_selector: Ordered(
            hw.node_selector
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        tolerations: hw
            .tolerations
            .iter()
            .map(|&(key, operator, value, effect)| Toleration {
                key,
                operator,
                value,
                effect,
            })
            .collect(),
        main_container: container,
    }
}

fn cache_mounts(opts: &DeployOptions) -> Vec<VolumeMount> {
    opts.model_cache()
        .map(|(_, mount, _)| {
            vec![VolumeMount {
                name: "model-cache".into(),
                mount_path: mount,
            }]
        })
        .unwrap_or_default()
}

fn hf_home(opts: &DeployOptions) -> Vec<EnvVar> {
    opts.model_cache()
        .map(|(_, _, home)| {
            vec![EnvVar {
                name: "HF_HOME".into(),
                value: home,
            }]
        })
        .unwrap_or_default()
}

/// The manifest text: the DGD, then (TRT-LLM) the engine-config ConfigMap.
/// `engine_configs` are (file name, YAML text) per role, TRT-LLM only.
pub fn manifest(
    plan: &Plan,
    opts: &DeployOptions,
    hw: &Hardware,
    engine_configs: &[(String, String)],
) -> Result<String, String> {
    let name = deployment_name(plan, opts);
    let image = opts.image(plan.backend);
    let router = opts.enable_router(plan.prefix);
    let gpn = opts.gpus_per_node(&plan.system);
    let mut services = vec![(
        "Frontend".to_string(),
        Service {
            env_from_secret: "hf-token-secret",
            component_type: "frontend",
            sub_component_type: None,
            replicas: 1,
            resources: None,
            shared_memory: None,
            multinode: None,
            envs: {
                let mut e = Vec::new();
                if router {
                    e.push(EnvVar {
                        name: "DYN_ROUTER_MODE".into(),
                        value: "kv".into(),
                    });
                }
                e.extend(hf_home(opts));
                e
            },
            extra_pod_spec: pod_spec(
                hw,
                opts,
                Container {
                    image: image.clone(),
                    working_dir: None,
                    image_pull_policy: "IfNotPresent",
                    volume_mounts: cache_mounts(opts),
                    command: vec!["python3".into(), "-m".into(), "dynamo.frontend".into()],
                    args: vec!["--http-port".into(), opts.port().to_string()],
                    startup_probe: None,
                    liveness_probe: None,
                    readiness_probe: None,
                    env: vec![],
                },
                vec![],
            ),
        },
    )];
    let configmap_name = format!("{name}-engine-configs");
    let trt = plan.backend == Backend::Trtllm;
    for r in &plan.roles {
        let WorkerCommand { module, args } = worker::command(plan, r, opts, hw, false);
        let gpus = r.gpus_per_worker();
        // A worker larger than a node runs one pod per node, each with a node's GPUs.
        let (per_pod, nodes) = if gpus > gpn {
            (gpn, gpus.div_ceil(gpn))
        } else {
            (gpus, 1)
        };
        let mut mounts = Vec::new();
        let mut volumes = Vec::new();
        if plan.backend == Backend::Trtllm {
            volumes.push(serde_json::json!({"name": ENGINE_CONFIG_VOLUME, "configMap": {"name": configmap_name}}));
            mounts.push(VolumeMount {
                name: ENGINE_CONFIG_VOLUME.into(),
                mount_path: "/workspace/engine_configs".into(),
            });
            // A RAM-backed /tmp for the engine's shared-memory files, as the reference gives it.
            volumes.push(serde_json::json!({"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "10Gi"}}));
            mounts.push(VolumeMount {
                name: "tmp".into(),
                mount_path: "/tmp".into(),
            });
        }
        mounts.extend(cache_mounts(opts));
        let mut env: Vec<EnvVar> = hw
            .nccl_env
            .iter()
            .map(|(k, v)| EnvVar {
                name: k.to_string(),
                value: v.to_string(),
            })
            .collect();
        env.extend(opts.transport_env().iter().map(|(k, v)| EnvVar {
            name: k.to_string(),
            value: v.to_string(),
        }));
        env.extend(hf_home(opts));
        services.push((
            service_name(plan.backend, r.role),
            Service {
                env_from_secret: "hf-token-secret",
                component_type: "worker",
                sub_component_type: match r.role {
                    Role::Agg => None,
                    Role::Prefill => Some("prefill"),
                    Role::Decode => Some("decode"),
                },
                replicas: r.workers,
                resources: Some(Resources {
                    limits: Limits {
                        gpu: per_pod.to_string(),
                    },
                }),
                shared_memory: Some(SharedMemory {
                    size: hw.shared_memory,
                }),
                multinode: (nodes > 1).then_some(Multinode { node_count: nodes }),
                envs: vec![],
                extra_pod_spec: pod_spec(
                    hw,
                    opts,
                    Container {
                        image: image.clone(),
                        working_dir: Some(worker::working_dir(plan.backend).into()),
                        image_pull_policy: "IfNotPresent",
                        volume_mounts: mounts,
                        command: vec!["python3".into(), "-m".into(), module.into()],
                        args,
                        // TRT-LLM workers load and compile for minutes before
                        // they serve: up to 20 min to start, then liveness
                        // checks (the reference's probes; the operator's
                        // defaults apply to the other backends).
                        startup_probe: trt.then(|| probe("/health", 120, 40)),
                        liveness_probe: trt.then(|| probe("/live", 300, 10)),
                        readiness_probe: trt.then(|| probe("/live", 300, 10)),
                        env,
                    },
                    volumes,
                ),
            },
        ));
    }
    let dgd = Manifest {
        api_version: "nvidia.com/v1alpha1",
        kind: "DynamoGraphDeployment",
        metadata: Metadata {
            name: name.clone(),
            namespace: opts.namespace().map(str::to_string),
        },
        spec: Spec {
            services: Ordered(services),
        },
    };
    let mut text =
        serde_saphyr::to_string(&dgd).map_err(|e| format!("writing the manifest: {e}"))?;
    if plan.backend == Backend::Trtllm {
        let cm = ConfigMap {
            api_version: "v1",
            kind: "ConfigMap",
            metadata: Metadata {
                name: configmap_name,
                namespace: opts.namespace().map(str::to_string),
            },
            data: Ordered(engine_configs.to_vec()),
        };
        text.push_str("---\n");
        text.push_str(
            &serde_saphyr::to_string(&cm).map_err(|e| format!("writing the ConfigMap: {e}"))?,
        );
    }
    Ok(text)
}
