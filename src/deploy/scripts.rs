//! Shell and Job files from templates (assets/deploy/*.j2): the per-node
//! launch scripts `run_<i>.sh`, and the aiperf sweep as `bench_run.sh` and
//! `k8s_bench.yaml`.

use super::hardware::Hardware;
use super::plan::{Backend, Plan, Role};
use super::settings::DeployOptions;
use super::worker::{self, shell_word};
use minijinja::Environment;
use serde::Serialize;

const RUN_SH: &str = include_str!("../../assets/deploy/run.sh.j2");
const BENCH_RUN_SH: &str = include_str!("../../assets/deploy/bench_run.sh.j2");
const K8S_BENCH: &str = include_str!("../../assets/deploy/k8s_bench.yaml.j2");

fn env() -> Result<Environment<'static>, String> {
    let mut e = Environment::new();
    // Block tags own their lines, as in the reference's Jinja setup.
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .map_err(|err| format!("deploy templates: {err}"))?;
    e.set_syntax(syntax);
    for (name, src) in [
        ("run.sh", RUN_SH),
        ("bench_run.sh", BENCH_RUN_SH),
        ("k8s_bench.yaml", K8S_BENCH),
    ] {
        e.add_template(name, src)
            .map_err(|err| format!("deploy template {name}: {err}"))?;
    }
    Ok(e)
}

fn render<S: Serialize>(name: &str, ctx: S) -> Result<String, String> {
    let e = env()?;
    let t = e
        .get_template(name)
        .map_err(|err| format!("deploy template {name}: {err}"))?;
    t.render(minijinja::value::Serde(ctx))
        .map_err(|err| format!("rendering {name}: {err}"))
}

/// One worker placed on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub role: Role,
    /// Index among the workers of its role (0-based, over the deployment).
    pub index: u32,
    /// GPU ids on the node.
    pub gpus: Vec<u32>,
    /// Nodes the worker spans (1 unless it is larger than a node).
    pub spans: u32,
}

/// Place every worker on nodes of `gpn` GPUs, first fit. Disagg interleaves
/// prefill and decode workers in the ratio of their counts so each node holds
/// a similar mix (the reference's placement); on a node, prefill workers take
/// the low GPU ids. A worker larger than a node gets nodes of its own.
pub fn place(plan: &Plan, gpn: u32) -> Vec<Vec<Placement>> {
    let mut order: Vec<(Role, u32)> = Vec::new();
    let counts: Vec<(Role, u32, u32)> = plan
        .roles
        .iter()
        .map(|r| (r.role, r.workers, r.gpus_per_worker()))
        .collect();
    if counts.len() == 2 && counts[0].1 > 0 && counts[1].1 > 0 {
        let g = gcd(counts[0].1, counts[1].1);
        let units = [counts[0].1 / g, counts[1].1 / g];
        let mut left = [counts[0].1, counts[1].1];
        while left.iter().any(|&l| l > 0) {
            for k in 0..2 {
                for _ in 0..units[k].min(left[k]) {
                    order.push((counts[k].0, counts[k].2));
                    left[k] -= 1;
                }
            }
        }
    } else {
        for &(role, n, g) in &counts {
            order.extend(std::iter::repeat_n((role, g), n as usize));
        }
    }
    // (used GPUs, workers) per node.
    let mut nodes: Vec<(u32, Vec<(Role, u32)>)> = Vec::new();
    for (role, g) in order {
        match nodes.iter_mut().find(|n| g <= gpn && n.0 + g <= gpn) {
            Some(n) => {
                n.0 += g;
                n.1.push((role, g));
            }
            None => nodes.push((g, vec![(role, g)])),
        }
    }
    let mut next_index = [0u32; 3];
    nodes
        .into_iter()
        .map(|(_, mut ws)| {
            ws.sort_by_key(|(r, _)| *r != Role::Prefill);
            let mut first = 0;
            ws.into_iter()
                .map(|(role, g)| {
                    let slot = &mut next_index[role as usize];
                    let index = *slot;
                    *slot += 1;
                    let on_node = g.min(gpn);
                    let p = Placement {
                        role,
                        index,
                        gpus: (first..first + on_node).collect(),
                        spans: g.div_ceil(gpn.max(1)),
                    };
                    first += on_node;
                    p
                })
                .collect()
        })
        .collect()
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[derive(Serialize)]
struct WorkerCtx {
    label: String,
    gpu_count: usize,
    spans: u32,
    gpus: String,
    env: String,
    args: String,
}

#[derive(Serialize)]
struct RunCtx<'a> {
    header: &'a str,
    node: usize,
    scripts: usize,
    /// Nodes in all: a worker larger than a node occupies several.
    nodes: u32,
    summary: String,
    model: &'a str,
    served: &'a str,
    head_node_ip: &'a str,
    engine_configs: bool,
    frontend: bool,
    frontend_args: String,
    module: &'a str,
    workers: Vec<WorkerCtx>,
}

/// `run_<i>.sh` per node: (file name, text).
pub fn run_scripts(
    plan: &Plan,
    opts: &DeployOptions,
    hw: &Hardware,
    header: &str,
) -> Result<Vec<(String, String)>, String> {
    let placement = place(plan, opts.gpus_per_node(&plan.system));
    let mut frontend_args = Vec::new();
    if opts.enable_router(plan.prefix) {
        frontend_args.extend(["--router-mode".to_string(), "kv".to_string()]);
    }
    frontend_args.extend(["--http-port".to_string(), opts.port().to_string()]);
    let mut out = Vec::new();
    let scripts = placement.len();
    let nodes: u32 = placement
        .iter()
        .map(|n| n.iter().map(|p| p.spans).max().unwrap_or(1))
        .sum();
    for (i, node) in placement.iter().enumerate() {
        let mut module = "";
        // Ports only need to differ between workers of the same node.
        let mut port = 0u32;
        let mut workers = Vec::new();
        for p in node {
            let Some(r) = plan.role(p.role) else { continue };
            let cmd = worker::command(plan, r, opts, hw, true);
            module = cmd.module;
            // Workers sharing a node need their own status and transfer ports.
            let mut env = format!("DYN_SYSTEM_PORT={}", 8081 + port);
            if plan.backend == Backend::Vllm {
                env.push_str(&format!(
                    " DYN_VLLM_KV_EVENT_PORT={} VLLM_NIXL_SIDE_CHANNEL_PORT={}",
                    20081 + port,
                    20097 + port
                ));
            }
            port += 1;
            workers.push(WorkerCtx {
                label: format!("{} {}", p.role.name(), p.index),
                gpu_count: p.gpus.len(),
                spans: p.spans,
                gpus: p
                    .gpus
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                env,
                args: cmd
                    .args
                    .iter()
                    .map(|a| shell_word(a))
                    .collect::<Vec<_>>()
                    .join(" "),
            });
        }
        let summary = node
            .iter()
            .map(|p| format!("{} {}", p.role.name(), p.index))
            .collect::<Vec<_>>()
            .join(", ");
        let ctx = RunCtx {
            header,
            node: i,
            scripts,
            nodes,
            summary: if i == 0 {
                format!("frontend, {summary}")
            } else {
                summary
            },
            model: opts.model_path(&plan.model),
            served: opts.served_model_name(&plan.model),
            head_node_ip: opts.head_node_ip(),
            engine_configs: plan.backend == Backend::Trtllm,
            frontend: i == 0,
            frontend_args: frontend_args.join(" "),
            module,
            workers,
        };
        out.push((format!("run_{i}.sh"), render("run.sh", ctx)?));
    }
    Ok(out)
}

/// The sweep: the usual low points plus the candidate's concurrency ±5 %.
pub fn concurrency_list(estimated: u32) -> Vec<u32> {
    let mut v: Vec<u32> = vec![1, 2, 8, 16, 32, 64, 128];
    if estimated > 0 {
        let e = f64::from(estimated);
        v.extend([(e * 0.95) as u32, estimated, (e * 1.05) as u32]);
    }
    v.retain(|&c| c >= 1);
    v.sort_unstable();
    v.dedup();
    v
}

#[derive(Serialize)]
struct BenchCtx<'a> {
    header: &'a str,
    concurrency: u32,
    concurrency_why: String,
    concurrency_list: String,
    head_node_ip: &'a str,
    port: u32,
    served: &'a str,
    served_word: String,
    tokenizer: &'a str,
    tokenizer_word: String,
    rounds: u32,
    k8s_rounds: u32,
    isl: u32,
    osl: u32,
    prefix: u32,
    name: String,
    namespace: Option<&'a str>,
    endpoint: String,
    bench_image: &'a str,
    pvc: Option<String>,
    pvc_mount: Option<String>,
}

/// `bench_run.sh` and `k8s_bench.yaml`.
pub fn bench_files(
    plan: &Plan,
    opts: &DeployOptions,
    header: &str,
) -> Result<Vec<(String, String)>, String> {
    let c = plan.estimated_concurrency();
    let name = super::k8s::deployment_name(plan, opts);
    let served = opts.served_model_name(&plan.model);
    let tokenizer = opts.model_path(&plan.model);
    let why = plan
        .roles
        .iter()
        .filter(|r| r.role.generates())
        .map(|r| format!("{} {} workers x batch {}", r.workers, r.role.name(), r.bs))
        .collect::<Vec<_>>()
        .join(" + ");
    let cache = opts.model_cache();
    let ctx = BenchCtx {
        header,
        concurrency: c,
        concurrency_why: why,
        concurrency_list: concurrency_list(c)
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" "),
        head_node_ip: opts.head_node_ip(),
        port: opts.port(),
        served,
        served_word: shell_word(served),
        tokenizer,
        tokenizer_word: shell_word(tokenizer),
        rounds: 20,
        k8s_rounds: 50,
        isl: plan.isl,
        osl: plan.osl,
        prefix: plan.prefix,
        endpoint: format!(
            "http://{name}-frontend.{}.svc.cluster.local:{}",
            opts.namespace().unwrap_or("default"),
            opts.port()
        ),
        name,
        namespace: opts.namespace(),
        bench_image: opts.bench_image(),
        pvc: cache.as_ref().map(|c| c.0.clone()),
        pvc_mount: cache.as_ref().map(|c| c.1.clone()),
    };
    Ok(vec![
        ("bench_run.sh".into(), render("bench_run.sh", &ctx)?),
        ("k8s_bench.yaml".into(), render("k8s_bench.yaml", &ctx)?),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::plan::tests::{layout, plan_of, role};

    #[test]
    fn concurrency_list_brackets_the_estimate() {
        assert_eq!(
            concurrency_list(432),
            vec![1, 2, 8, 16, 32, 64, 128, 410, 432, 453]
        );
        assert_eq!(
            concurrency_list(60),
            vec![1, 2, 8, 16, 32, 57, 60, 63, 64, 128]
        );
    }

    #[test]
    fn placement_interleaves_and_puts_prefill_first() {
        // 8 prefill x1 GPU and 2 decode x4: two nodes of 4P + 1D.
        let p = plan_of(
            Backend::Trtllm,
            false,
            vec![
                role(Role::Prefill, layout(1, 1, 1, 1), 1, 8),
                role(Role::Decode, layout(4, 1, 1, 1), 216, 2),
            ],
        );
        let nodes = place(&p, 8);
        assert_eq!(nodes.len(), 2);
        let n0: Vec<(Role, Vec<u32>)> = nodes[0].iter().map(|w| (w.role, w.gpus.clone())).collect();
        assert_eq!(n0[0], (Role::Prefill, vec![0]));
        assert_eq!(n0[4], (Role::Decode, vec![4, 5, 6, 7]));
        assert_eq!(nodes[1][0].index, 4);
    }

    #[test]
    fn run_scripts_start_each_nodes_workers_on_their_gpus() {
        let p = plan_of(
            Backend::Trtllm,
            false,
            vec![
                role(Role::Prefill, layout(1, 1, 1, 1), 1, 8),
                role(Role::Decode, layout(4, 1, 1, 1), 216, 2),
            ],
        );
        let hw = crate::deploy::hardware::for_system("h200_sxm");
        let files = run_scripts(&p, &DeployOptions::default(), &hw, "h").expect("scripts");
        assert_eq!(files.len(), 2);
        let (n0, n1) = (&files[0].1, &files[1].1);
        assert!(n0.contains("python3 -m dynamo.frontend --http-port 8000"));
        assert!(!n1.contains("dynamo.frontend"));
        // Second node: its own port range and GPU ids from 0.
        assert!(
            n1.contains("CUDA_VISIBLE_DEVICES=0 DYN_SYSTEM_PORT=8081"),
            "{n1}"
        );
        assert!(
            n1.contains("CUDA_VISIBLE_DEVICES=4,5,6,7 DYN_SYSTEM_PORT=8085"),
            "{n1}"
        );
        assert!(
            n1.contains("\"$ENGINE_CONFIG_DIR/decode_config.yaml\""),
            "{n1}"
        );
        assert!(n1.ends_with("wait\n"));
        assert!(n1.contains("# Script 2 of 2 (2 node(s) in all)"), "{n1}");
    }

    #[test]
    fn worker_larger_than_a_node_spans_nodes() {
        let p = plan_of(
            Backend::Trtllm,
            true,
            vec![role(Role::Agg, layout(1, 16, 1, 16), 11, 1)],
        );
        let nodes = place(&p, 8);
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0][0].spans, 2);
        assert_eq!(nodes[0][0].gpus, (0..8).collect::<Vec<_>>());
    }
}
