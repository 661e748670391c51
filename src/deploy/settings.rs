//! Deploy settings: what the search cannot know (image, namespace, model
//! cache, served name, port, versions). Defaults are the reference's; each
//! is settable by `--deploy-set KEY=VALUE` or a small YAML of `KEY: VALUE`.

use super::plan::Backend;
use std::collections::BTreeMap;

/// One settable key: its name and what it does (listed by `xpyd run --help`).
pub struct Key {
    pub name: &'static str,
    pub help: &'static str,
}

pub const KEYS: &[Key] = &[
    Key { name: "dynamo_version", help: "Dynamo release the bundle targets (default 1.3.0; 1.2.0, 1.1.0, 1.0.0, 0.9.0, 0.8.1, 0.7.1 known)" },
    Key { name: "backend_version", help: "engine release the config format targets (default: the one the Dynamo release ships)" },
    Key { name: "image", help: "worker/frontend container image (default nvcr.io/nvidia/ai-dynamo/<backend>-runtime:<dynamo_version>)" },
    Key { name: "namespace", help: "Kubernetes namespace of the manifests (default: none, the kubectl context's)" },
    Key { name: "name_prefix", help: "prefix of the DynamoGraphDeployment name (default dynamo)" },
    Key { name: "model_path", help: "model path or Hugging Face id the workers load (default: the experiment's model)" },
    Key { name: "served_model_name", help: "model name the frontend serves (default: the model path)" },
    Key { name: "port", help: "frontend HTTP port (default 8000)" },
    Key { name: "head_node_ip", help: "head node address in the run scripts (default 0.0.0.0)" },
    Key { name: "image_pull_secret", help: "image pull secret of every pod (default: none)" },
    Key { name: "model_cache", help: "PVC holding the model cache, PVC:MOUNT[:SUBDIR] (default: none)" },
    Key { name: "enable_router", help: "KV-aware routing: frontend --router-mode kv (default false; true when prefix > 0)" },
    Key { name: "transport", help: "KV-transfer network: nvlink (default, no extra environment) or ib (UCX environment for InfiniBand/RoCE)" },
    Key { name: "gpus_per_node", help: "GPUs per node for the run_<i>.sh split (default 8; 4 on GB200/GB300)" },
    Key { name: "kv_cache_fraction", help: "TRT-LLM kv_cache_config.free_gpu_memory_fraction (default 0.8)" },
    Key { name: "bench_image", help: "aiperf benchmark job image (default python:3.12-slim)" },
];

/// The engine releases each Dynamo release pairs with (reference's matrix).
const MATRIX: &[(&str, &str, &str, &str)] = &[
    // dynamo, trtllm, vllm, sglang
    ("1.3.0", "1.3.0rc23", "0.24.0", "0.5.16"),
    ("1.2.0", "1.3.0rc14", "0.20.1", "0.5.11"),
    ("1.1.0", "1.3.0rc11", "0.19.0", "0.5.10.post1"),
    ("1.0.0", "1.3.0rc5.post1", "0.16.0", "0.5.9"),
    ("0.9.0", "1.3.0rc1", "0.14.1", "0.5.8"),
    ("0.8.1", "1.2.0rc6.post1", "0.12.0", "0.5.6.post2"),
    ("0.8.0", "1.2.0rc6.post1", "0.12.0", "0.5.6.post2"),
    ("0.7.1", "1.2.0rc3", "0.11.0", "0.5.4.post3"),
    ("0.7.0", "1.2.0rc2", "0.11.0", "0.5.4.post3"),
];

/// Resolved deploy settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeployOptions {
    /// Raw `KEY=VALUE` settings, validated against [`KEYS`].
    values: BTreeMap<String, String>,
    /// Replace an existing bundle folder (the TUI never sets this).
    pub overwrite: bool,
}

impl DeployOptions {
    /// Set one key; unknown keys and malformed values are errors.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let key = key.trim();
        if !KEYS.iter().any(|k| k.name == key) {
            let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
            return Err(format!(
                "unknown deploy key '{key}'; known keys: {}",
                names.join(", ")
            ));
        }
        let value = value.trim().to_string();
        match key {
            "port" | "gpus_per_node" => {
                value
                    .parse::<u32>()
                    .ok()
                    .filter(|v| *v > 0)
                    .ok_or_else(|| {
                        format!("deploy key '{key}': '{value}' is not a positive integer")
                    })?;
            }
            "kv_cache_fraction" => {
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|v| *v > 0.0 && *v <= 1.0)
                    .ok_or_else(|| {
                        format!("deploy key '{key}': '{value}' is not a fraction in (0, 1]")
                    })?;
            }
            "transport" if !matches!(value.as_str(), "nvlink" | "ib") => {
                return Err(format!(
                    "deploy key 'transport': '{value}' is not nvlink or ib"
                ));
            }
            "enable_router" => {
                parse_bool(&value)
                    .ok_or_else(|| format!("deploy key '{key}': '{value}' is not true/false"))?;
            }
            "dynamo_version" if !MATRIX.iter().any(|m| m.0 == value) => {
                let known: Vec<&str> = MATRIX.iter().map(|m| m.0).collect();
                return Err(format!(
                    "deploy key 'dynamo_version': '{value}' is not a known Dynamo release ({})",
                    known.join(", ")
                ));
            }
            "model_cache" => {
                let parts: Vec<&str> = value.split(':').collect();
                if parts.len() < 2 || parts[0].is_empty() || !parts[1].starts_with('/') {
                    return Err(format!(
                        "deploy key 'model_cache': '{value}' is not PVC:/MOUNT[:SUBDIR]"
                    ));
                }
            }
            _ => {}
        }
        self.values.insert(key.to_string(), value);
        Ok(())
    }

    /// `KEY=VALUE`, as given to `--deploy-set`.
    pub fn set_pair(&mut self, pair: &str) -> Result<(), String> {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("--deploy-set '{pair}': expected KEY=VALUE"))?;
        self.set(k, v)
    }

    /// A flat YAML mapping of `KEY: VALUE` (the `--deploy-config` file).
    pub fn load_yaml(&mut self, text: &str, label: &str) -> Result<(), String> {
        let map: BTreeMap<String, serde_json::Value> = serde_saphyr::from_str(text)
            .map_err(|e| format!("{label}: not a mapping of deploy keys: {e}"))?;
        for (k, v) in map {
            let s = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                other => return Err(format!("{label}: key '{k}': {other} is not a scalar")),
            };
            self.set(&k, &s).map_err(|e| format!("{label}: {e}"))?;
        }
        Ok(())
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    pub fn dynamo_version(&self) -> &str {
        self.get("dynamo_version").unwrap_or("1.3.0")
    }

    /// The engine release the configs target: the setting, else the one the
    /// Dynamo release ships.
    pub fn backend_version(&self, backend: Backend) -> String {
        if let Some(v) = self.get("backend_version") {
            return v.to_string();
        }
        let dyn_v = self.dynamo_version();
        let row = MATRIX.iter().find(|m| m.0 == dyn_v).unwrap_or(&MATRIX[0]);
        match backend {
            Backend::Trtllm => row.1,
            Backend::Vllm => row.2,
            Backend::Sglang => row.3,
        }
        .to_string()
    }

    pub fn image(&self, backend: Backend) -> String {
        if let Some(i) = self.get("image") {
            return i.to_string();
        }
        let repo = match backend {
            Backend::Trtllm => "tensorrtllm",
            Backend::Vllm => "vllm",
            Backend::Sglang => "sglang",
        };
        format!(
            "nvcr.io/nvidia/ai-dynamo/{repo}-runtime:{}",
            self.dynamo_version()
        )
    }

    pub fn namespace(&self) -> Option<&str> {
        self.get("namespace").filter(|s| !s.is_empty())
    }
    pub fn name_prefix(&self) -> &str {
        self.get("name_prefix").unwrap_or("dynamo")
    }
    pub fn model_path<'a>(&'a self, model: &'a str) -> &'a str {
        self.get("model_path").unwrap_or(model)
    }
    pub fn served_model_name<'a>(&'a self, model: &'a str) -> &'a str {
        self.get("served_model_name")
            .unwrap_or_else(|| self.model_path(model))
    }
    pub fn port(&self) -> u32 {
        self.get("port")
            .and_then(|p| p.parse().ok())
            .unwrap_or(8000)
    }
    pub fn head_node_ip(&self) -> &str {
        self.get("head_node_ip").unwrap_or("0.0.0.0")
    }
    pub fn image_pull_secret(&self) -> Option<&str> {
        self.get("image_pull_secret").filter(|s| !s.is_empty())
    }
    /// (claim, mount path, HF_HOME) of the model cache PVC.
    pub fn model_cache(&self) -> Option<(String, String, String)> {
        let v = self.get("model_cache")?;
        let mut parts = v.splitn(3, ':');
        let claim = parts.next()?.to_string();
        let mount = parts.next()?.to_string();
        let home = match parts.next() {
            Some(sub) if !sub.is_empty() => format!("{}/{}", mount.trim_end_matches('/'), sub),
            _ => mount.clone(),
        };
        Some((claim, mount, home))
    }
    /// KV-aware routing: asked for, or implied by a shared prefix (as the reference does).
    pub fn enable_router(&self, prefix: u32) -> bool {
        self.get("enable_router")
            .and_then(parse_bool)
            .unwrap_or(prefix > 0)
    }
    pub fn gpus_per_node(&self, system: &str) -> u32 {
        self.get("gpus_per_node")
            .and_then(|p| p.parse().ok())
            .unwrap_or(if system.starts_with("gb") { 4 } else { 8 })
    }
    /// Worker environment the KV-transfer network needs.
    pub fn transport_env(&self) -> &'static [(&'static str, &'static str)] {
        match self.get("transport") {
            Some("ib") => &[
                ("UCX_MEMTYPE_CACHE", "n"),
                ("UCX_TLS", "cuda_copy,cuda_ipc,tcp"),
                ("UCX_CUDA_IPC_ENABLE_MNNVL", "y"),
                ("UCX_LOG_LEVEL", "error"),
                ("NIXL_LOG_LEVEL", "ERROR"),
            ],
            _ => &[],
        }
    }
    pub fn kv_cache_fraction(&self) -> f64 {
        self.get("kv_cache_fraction")
            .and_then(|p| p.parse().ok())
            .unwrap_or(0.8)
    }
    pub fn bench_image(&self) -> &str {
        self.get("bench_image").unwrap_or("python:3.12-slim")
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Some(true),
        "false" | "no" | "0" | "off" => Some(false),
        _ => None,
    }
}

/// The key list, one per line, for `--help` texts.
pub fn keys_help() -> String {
    KEYS.iter()
        .map(|k| format!("  {:<18} {}", k.name, k.help))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_references() {
        let o = DeployOptions::default();
        assert_eq!(o.backend_version(Backend::Trtllm), "1.3.0rc23");
        assert_eq!(o.backend_version(Backend::Vllm), "0.24.0");
        assert_eq!(o.backend_version(Backend::Sglang), "0.5.16");
        assert_eq!(
            o.image(Backend::Trtllm),
            "nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:1.3.0"
        );
        assert_eq!(o.port(), 8000);
        assert!(!o.enable_router(0));
        assert!(o.enable_router(100));
    }

    #[test]
    fn dynamo_version_switches_image_and_engine_release() {
        let mut o = DeployOptions::default();
        o.set_pair("dynamo_version=0.8.1").expect("known release");
        assert_eq!(o.backend_version(Backend::Trtllm), "1.2.0rc6.post1");
        assert_eq!(
            o.image(Backend::Vllm),
            "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.8.1"
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let mut o = DeployOptions::default();
        let e = o.set_pair("imagee=x").expect_err("unknown key");
        assert!(e.contains("unknown deploy key 'imagee'"), "{e}");
        assert!(o.set_pair("port=http").is_err());
        assert!(o.set_pair("model_cache=pvc").is_err());
        assert!(o.set_pair("transport=efa").is_err());
        o.set_pair("transport=ib").expect("ib");
        assert_eq!(o.transport_env()[1], ("UCX_TLS", "cuda_copy,cuda_ipc,tcp"));
        assert!(o.set_pair("noequals").is_err());
    }

    #[test]
    fn yaml_file_sets_keys() {
        let mut o = DeployOptions::default();
        o.load_yaml(
            "namespace: llm-prod\nport: 9000\nmodel_cache: model-pvc:/models:hf/qwen\n",
            "d.yaml",
        )
        .expect("valid file");
        assert_eq!(o.namespace(), Some("llm-prod"));
        assert_eq!(o.port(), 9000);
        assert_eq!(
            o.model_cache(),
            Some((
                "model-pvc".into(),
                "/models".into(),
                "/models/hf/qwen".into()
            ))
        );
        assert!(o.load_yaml("bogus: 1\n", "d.yaml").is_err());
    }
}
