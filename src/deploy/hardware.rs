//! Per-GPU-family deployment facts: the node selector and tolerations the
//! pods need, the NCCL environment, shared memory, and the MoE kernel each
//! backend must use there (TRT-LLM's CUTLASS MoE does not start on
//! Blackwell; WIDEEP does).

/// Facts of one GPU family.
#[derive(Clone, Debug, PartialEq)]
pub struct Hardware {
    pub node_selector: Vec<(&'static str, &'static str)>,
    /// (key, operator, value, effect); `value` is empty for `Exists`.
    pub tolerations: Vec<(&'static str, &'static str, &'static str, &'static str)>,
    pub nccl_env: Vec<(&'static str, &'static str)>,
    pub shared_memory: &'static str,
    /// TRT-LLM `moe_config.backend`.
    pub trtllm_moe_backend: &'static str,
    /// SGLang `--moe-runner-backend`, where one is needed.
    pub sglang_moe_runner: Option<&'static str>,
}

const GPU_TAINT_EQUAL: (&str, &str, &str, &str) = ("nvidia.com/gpu", "Equal", "true", "NoSchedule");
const GPU_TAINT_EXISTS: (&str, &str, &str, &str) = ("nvidia.com/gpu", "Exists", "", "NoSchedule");

/// The facts of the family `system` (an xpyd system name) belongs to.
pub fn for_system(system: &str) -> Hardware {
    let family = system.split('_').next().unwrap_or(system);
    let cumem = vec![("NCCL_CUMEM_ENABLE", "1")];
    match family {
        "h100" => Hardware {
            node_selector: vec![("nvidia.com/gpu.product", "NVIDIA-H100-SXM5-80GB")],
            tolerations: vec![],
            nccl_env: cumem,
            shared_memory: "64Gi",
            trtllm_moe_backend: "CUTLASS",
            sglang_moe_runner: None,
        },
        "h20" => Hardware {
            node_selector: vec![("nvidia.com/gpu.product", "NVIDIA-H20-3e")],
            tolerations: vec![GPU_TAINT_EQUAL],
            nccl_env: cumem,
            shared_memory: "64Gi",
            trtllm_moe_backend: "CUTLASS",
            sglang_moe_runner: None,
        },
        "b200" | "b300" => Hardware {
            node_selector: vec![("nvidia.com/gpu.product", "NVIDIA-B200")],
            tolerations: vec![GPU_TAINT_EXISTS],
            nccl_env: cumem,
            shared_memory: "64Gi",
            trtllm_moe_backend: "WIDEEP",
            sglang_moe_runner: Some("deepep_moe"),
        },
        "gb200" | "gb300" => Hardware {
            node_selector: vec![
                ("kubernetes.io/arch", "arm64"),
                ("nvidia.com/gpu.product", "NVIDIA-GB200"),
            ],
            tolerations: vec![
                GPU_TAINT_EXISTS,
                ("kubernetes.io/arch", "Equal", "arm64", "NoSchedule"),
            ],
            nccl_env: vec![
                ("NCCL_CUMEM_ENABLE", "1"),
                ("NCCL_MNNVL_ENABLE", "1"),
                ("NCCL_NVLS_ENABLE", "1"),
                ("NCCL_P2P_LEVEL", "NVL"),
                ("UCX_CUDA_IPC_ENABLE_MNNVL", "y"),
                ("VLLM_USE_NCCL_SYMM_MEM", "1"),
            ],
            shared_memory: "64Gi",
            trtllm_moe_backend: "WIDEEP",
            sglang_moe_runner: Some("deepep_moe"),
        },
        // h200 and anything unknown: the Hopper defaults.
        _ => Hardware {
            node_selector: vec![("nvidia.com/gpu.product", "NVIDIA-H200")],
            tolerations: vec![GPU_TAINT_EQUAL],
            nccl_env: cumem,
            shared_memory: "64Gi",
            trtllm_moe_backend: "CUTLASS",
            sglang_moe_runner: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blackwell_moe_runs_wideep_hopper_cutlass() {
        assert_eq!(for_system("b200_sxm").trtllm_moe_backend, "WIDEEP");
        assert_eq!(for_system("h200_sxm").trtllm_moe_backend, "CUTLASS");
        assert_eq!(for_system("b200_sxm").sglang_moe_runner, Some("deepep_moe"));
        assert_eq!(
            for_system("h100_sxm").node_selector,
            vec![("nvidia.com/gpu.product", "NVIDIA-H100-SXM5-80GB")]
        );
    }
}
