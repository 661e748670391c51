//! One GPU system's hardware spec, parsed from `<system>.yaml` (the format the
//! vendor engine reads), plus the built-in specs xpyd ships for SOL mode.

use super::DbError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Built-in spec files, embedded so the binary works with no database at all.
/// (file name, contents)
pub const BUILTIN_FILES: &[(&str, &str)] = &[
    (
        "h100_sxm.yaml",
        include_str!("../../assets/systems/h100_sxm.yaml"),
    ),
    (
        "h200_sxm.yaml",
        include_str!("../../assets/systems/h200_sxm.yaml"),
    ),
    (
        "a100_sxm.yaml",
        include_str!("../../assets/systems/a100_sxm.yaml"),
    ),
    (
        "b200_sxm.yaml",
        include_str!("../../assets/systems/b200_sxm.yaml"),
    ),
    (
        "gb200.yaml",
        include_str!("../../assets/systems/gb200.yaml"),
    ),
    (
        "query_versions.yaml",
        include_str!("../../assets/systems/query_versions.yaml"),
    ),
];

/// Hardware facts and memory-model constants of one system. Units: bytes,
/// bytes/s (per GPU, one direction), FLOP/s (dense), seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct SystemSpec {
    /// Canonical name (file stem).
    pub name: String,
    /// Measured-data folder, relative to the systems folder.
    pub data_dir: PathBuf,
    pub mem_capacity_bytes: f64,
    pub mem_bw: f64,
    pub mem_bw_empirical_scaling_factor: f64,
    pub mem_empirical_constant_latency: f64,
    pub bfloat16_tc_flops: Option<f64>,
    pub int8_tc_flops: Option<f64>,
    pub fp8_tc_flops: Option<f64>,
    pub fp4_tc_flops: Option<f64>,
    pub power_w: Option<f64>,
    pub sm_version: Option<u32>,
    pub gpus_per_node: u32,
    pub gpus_per_rack: Option<u32>,
    pub intra_node_bw: f64,
    pub inter_node_bw: f64,
    pub inter_rack_bw: Option<f64>,
    pub inter_rack_latency: Option<f64>,
    pub pcie_bw: Option<f64>,
    pub p2p_latency: f64,
    /// NCCL buffer memory per GPU keyed by TP size, bytes.
    pub nccl_mem: BTreeMap<u32, f64>,
    /// Flat per-GPU reserve (context, allocator slack), bytes.
    pub other_mem_bytes: f64,
    pub nccl_version: Option<String>,
}

impl SystemSpec {
    /// Blackwell or newer (SM 100+).
    pub fn is_blackwell(&self) -> bool {
        self.sm_version.is_some_and(|sm| sm >= 100)
    }

    /// NCCL memory for a TP size: the table is keyed by min(tp, 8), as the
    /// reference's memory model does. A size missing from the table takes the
    /// nearest smaller key (0 when none).
    pub fn nccl_mem_bytes(&self, tp: u32) -> f64 {
        let key = tp.min(8);
        self.nccl_mem
            .range(..=key)
            .next_back()
            .map(|(_, v)| *v)
            .unwrap_or(0.0)
    }

    /// Point-to-point bandwidth for a collective over `num_gpus`: NVLink
    /// within a node, inter-node inside a rack, inter-rack beyond.
    pub fn p2p_bandwidth(&self, num_gpus: u32) -> f64 {
        if num_gpus <= self.gpus_per_node {
            return self.intra_node_bw;
        }
        if num_gpus <= self.gpus_per_rack.unwrap_or(u32::MAX) {
            return self.inter_node_bw;
        }
        self.inter_rack_bw.unwrap_or(self.inter_node_bw)
    }

    /// Parse YAML text; `path` is only used in error messages.
    pub fn parse(name: &str, text: &str, path: &Path) -> Result<Self, DbError> {
        let raw: RawSpec = serde_saphyr::from_str(text).map_err(|e| DbError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let bad = |message: String| DbError::Parse {
            path: path.to_path_buf(),
            message,
        };
        let mem_capacity = raw
            .gpu
            .mem_capacity
            .ok_or_else(|| bad("gpu.mem_capacity is missing".into()))?;
        // Written so that NaN fails too.
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        if !(raw.gpu.mem_bw > 0.0) {
            return Err(bad("gpu.mem_bw must be positive".into()));
        }
        if raw.node.num_gpus_per_node == 0 {
            return Err(bad("node.num_gpus_per_node must be positive".into()));
        }
        Ok(SystemSpec {
            name: name.to_string(),
            data_dir: PathBuf::from(raw.data_dir.unwrap_or_default()),
            mem_capacity_bytes: mem_capacity,
            mem_bw: raw.gpu.mem_bw,
            mem_bw_empirical_scaling_factor: raw.gpu.mem_bw_empirical_scaling_factor.unwrap_or(1.0),
            mem_empirical_constant_latency: raw.gpu.mem_empirical_constant_latency.unwrap_or(0.0),
            bfloat16_tc_flops: raw.gpu.bfloat16_tc_flops,
            int8_tc_flops: raw.gpu.int8_tc_flops,
            fp8_tc_flops: raw.gpu.fp8_tc_flops,
            fp4_tc_flops: raw.gpu.fp4_tc_flops,
            power_w: raw.gpu.power,
            sm_version: raw.gpu.sm_version,
            gpus_per_node: raw.node.num_gpus_per_node,
            gpus_per_rack: raw.node.num_gpus_per_rack,
            intra_node_bw: raw.node.intra_node_bw,
            inter_node_bw: raw.node.inter_node_bw,
            inter_rack_bw: raw.node.inter_rack_bw,
            inter_rack_latency: raw.node.inter_rack_latency,
            pcie_bw: raw.node.pcie_bw,
            p2p_latency: raw.node.p2p_latency.unwrap_or(0.0),
            nccl_mem: raw.misc.nccl_mem,
            other_mem_bytes: raw.misc.other_mem.unwrap_or(0.0),
            nccl_version: raw.misc.nccl_version,
        })
    }

    /// Read and parse `<dir>/<name>.yaml`.
    pub fn load(dir: &Path, name: &str) -> Result<Self, DbError> {
        let path = dir.join(format!("{name}.yaml"));
        let text = std::fs::read_to_string(&path).map_err(|e| DbError::io(&path, e))?;
        Self::parse(name, &text, &path)
    }

    /// One of the embedded built-in specs, by canonical name.
    pub fn builtin(name: &str) -> Option<Self> {
        let file = format!("{name}.yaml");
        let (_, text) = BUILTIN_FILES.iter().find(|(f, _)| *f == file)?;
        Self::parse(name, text, Path::new(&format!("<built-in>/{file}"))).ok()
    }
}

/// Names of the built-in systems.
pub fn builtin_system_names() -> Vec<String> {
    BUILTIN_FILES
        .iter()
        .filter(|(f, _)| *f != "query_versions.yaml")
        .filter_map(|(f, _)| f.strip_suffix(".yaml").map(str::to_string))
        .collect()
}

// The YAML as written; numbers may be written as ints or floats, so every
// numeric field is read as f64 (u32 for counts).
#[derive(Deserialize)]
struct RawSpec {
    data_dir: Option<String>,
    gpu: RawGpu,
    node: RawNode,
    #[serde(default)]
    misc: RawMisc,
}

#[derive(Deserialize)]
struct RawGpu {
    mem_bw: f64,
    mem_bw_empirical_scaling_factor: Option<f64>,
    mem_empirical_constant_latency: Option<f64>,
    mem_capacity: Option<f64>,
    bfloat16_tc_flops: Option<f64>,
    int8_tc_flops: Option<f64>,
    fp8_tc_flops: Option<f64>,
    fp4_tc_flops: Option<f64>,
    power: Option<f64>,
    sm_version: Option<u32>,
}

#[derive(Deserialize)]
struct RawNode {
    num_gpus_per_node: u32,
    num_gpus_per_rack: Option<u32>,
    intra_node_bw: f64,
    inter_node_bw: f64,
    inter_rack_bw: Option<f64>,
    inter_rack_latency: Option<f64>,
    pcie_bw: Option<f64>,
    p2p_latency: Option<f64>,
}

#[derive(Deserialize, Default)]
struct RawMisc {
    #[serde(default)]
    nccl_mem: BTreeMap<u32, f64>,
    other_mem: Option<f64>,
    nccl_version: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_with_expected_topology() {
        let names = builtin_system_names();
        assert_eq!(
            names,
            ["h100_sxm", "h200_sxm", "a100_sxm", "b200_sxm", "gb200"]
        );
        for n in &names {
            let s = SystemSpec::builtin(n).unwrap_or_else(|| panic!("{n} must parse"));
            assert!(s.mem_capacity_bytes > 40e9, "{n}");
            assert!(s.bfloat16_tc_flops.unwrap_or(0.0) > 1e14, "{n}");
            assert_eq!(s.nccl_mem_bytes(16), s.nccl_mem_bytes(8));
            assert_eq!(s.nccl_mem_bytes(1), 0.0);
            assert_eq!(s.other_mem_bytes, 3.5 * 1024.0 * 1024.0 * 1024.0);
        }
        let gb = SystemSpec::builtin("gb200").unwrap();
        assert!(gb.is_blackwell());
        assert_eq!(gb.gpus_per_node, 4);
        assert_eq!(gb.p2p_bandwidth(4), 900e9);
        assert_eq!(gb.p2p_bandwidth(72), 900e9);
        assert_eq!(gb.p2p_bandwidth(144), 100e9);
        let a = SystemSpec::builtin("a100_sxm").unwrap();
        assert!(a.fp8_tc_flops.is_none() && !a.is_blackwell());
        assert_eq!(a.p2p_bandwidth(16), 25e9);
    }

    #[test]
    fn parse_errors_name_the_file() {
        let e = SystemSpec::parse("x", "gpu: {mem_bw: 1}\n", Path::new("/d/x.yaml")).unwrap_err();
        assert!(e.to_string().contains("/d/x.yaml"), "{e}");
        let e = SystemSpec::parse(
            "x",
            "gpu: {mem_bw: 1}\nnode: {num_gpus_per_node: 8, intra_node_bw: 1, inter_node_bw: 1}\n",
            Path::new("/d/x.yaml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("mem_capacity"), "{e}");
    }
}
