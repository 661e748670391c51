//! Readers of the reference's and xpyd's bundle files for
//! `tests/deploy_reference.rs`: shell words, worker flags, manifest
//! services, run-script GPU placement, the benchmark sweep.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Split shell words: quotes, backslash escapes and line continuations.
pub fn shell_split(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut has) = (Vec::new(), String::new(), false);
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\'' => {
                has = true;
                for d in it.by_ref() {
                    if d == '\'' {
                        break;
                    }
                    cur.push(d);
                }
            }
            '"' => {
                has = true;
                while let Some(d) = it.next() {
                    match d {
                        '"' => break,
                        '\\' => cur.extend(it.next()),
                        _ => cur.push(d),
                    }
                }
            }
            '\\' => match it.next() {
                Some('\n') | None => {}
                Some(d) => {
                    has = true;
                    cur.push(d)
                }
            },
            c if c.is_whitespace() => {
                if has {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            c => {
                has = true;
                cur.push(c)
            }
        }
    }
    if has {
        out.push(cur);
    }
    out
}

/// Flag → values (a flag may take several, e.g. `--cuda-graph-bs 1 2 3`).
pub fn flag_map(args: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut key = String::new();
    for a in args {
        if a.starts_with("--") {
            key = a.clone();
            m.entry(key.clone()).or_default();
        } else {
            m.entry(key.clone()).or_default().push(a.clone());
        }
    }
    m
}

pub fn yaml(text: &str) -> Value {
    serde_saphyr::from_str::<Value>(text).unwrap_or_else(|e| panic!("YAML: {e}\n{text}"))
}

/// First document of a multi-document YAML file.
pub fn first_doc(text: &str) -> Value {
    yaml(text.split("\n---\n").next().unwrap_or(""))
}

/// A worker's arguments from a manifest service: the args list, or the
/// `args=( ... )` / `args+=( ... )` arrays of a `bash -c` script.
pub fn worker_args(svc: &Value) -> Vec<String> {
    let c = &svc["extraPodSpec"]["mainContainer"];
    let args: Vec<String> = c["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if c["command"][0].as_str() != Some("/bin/bash") {
        return args;
    }
    let script = args.first().cloned().unwrap_or_default();
    let mut words = Vec::new();
    if let Some(start) = script.find("args=(\n") {
        let body = &script[start + 7..];
        words.extend(shell_split(&body[..body.find("\n)").unwrap_or(0)]));
    }
    for line in script.lines().filter(|l| l.starts_with("args+=(")) {
        words.extend(shell_split(
            line.trim_start_matches("args+=(").trim_end_matches(')'),
        ));
    }
    words
}

/// A worker's volume mounts: (volume name, mount path), sorted.
pub fn mounts_of(svc: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = svc["extraPodSpec"]["mainContainer"]["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or("").to_string(),
                m["mountPath"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// A worker's environment: the service's `envs` and the container's `env`.
pub fn env_of(svc: &Value) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for list in [&svc["envs"], &svc["extraPodSpec"]["mainContainer"]["env"]] {
        for e in list.as_array().into_iter().flatten() {
            m.insert(
                e["name"].as_str().unwrap_or("").to_string(),
                e["value"].as_str().unwrap_or("").to_string(),
            );
        }
    }
    m
}

/// The TRT-LLM engine config a reference pod writes with a heredoc.
pub fn heredoc_config(svc: &Value) -> Option<Value> {
    let script = svc["extraPodSpec"]["mainContainer"]["args"][0].as_str()?;
    let start = script.find("<<'YAML'\n")? + 9;
    let end = script[start..].find("\nYAML\n")? + start;
    Some(yaml(&script[start..end]))
}

pub fn services(doc: &Value) -> BTreeMap<String, Value> {
    doc["spec"]["services"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

pub fn gpu_limit(svc: &Value) -> u32 {
    svc["resources"]["limits"]["gpu"]
        .as_str()
        .and_then(|g| g.parse().ok())
        .unwrap_or(0)
}

/// xpyd's GPUs of one worker: per pod × pods (nodes).
pub fn gpu_of(svc: &Value) -> u32 {
    gpu_limit(svc)
        * svc["multinode"]["nodeCount"]
            .as_u64()
            .map_or(1, |n| n as u32)
}

/// (script, role, GPU list) of every worker the reference's run scripts start.
pub fn reference_launches(dir: &Path) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    for i in 0.. {
        let Ok(text) = std::fs::read_to_string(dir.join(format!("run_{i}.sh"))) else {
            break;
        };
        let var = |name: &str| -> u32 {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        for (role, prefix) in [("agg", "AGG"), ("prefill", "PREFILL"), ("decode", "DECODE")] {
            let (g, n, off) = (
                var(&format!("{prefix}_GPU")),
                var(&format!("{prefix}_WORKERS")),
                var(&format!("{prefix}_GPU_OFFSET")),
            );
            for w in 0..n {
                let base = off + w * g;
                let list: Vec<String> = (base..base + g).map(|x| x.to_string()).collect();
                out.push((i, role.to_string(), list.join(",")));
            }
        }
    }
    out.sort();
    out
}

/// The same from xpyd's scripts (`# prefill 3: ...` then `CUDA_VISIBLE_DEVICES=...`).
pub fn xpyd_launches(files: &BTreeMap<String, String>) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    for i in 0.. {
        let Some(text) = files.get(&format!("run_{i}.sh")) else {
            break;
        };
        let mut role = String::new();
        for l in text.lines() {
            if let Some(r) = l
                .strip_prefix("# ")
                .and_then(|r| r.split_whitespace().next())
            {
                role = r.to_string();
            }
            if let Some(rest) = l.strip_prefix("CUDA_VISIBLE_DEVICES=") {
                let gpus = rest.split_whitespace().next().unwrap_or("").to_string();
                out.push((i, role.clone(), gpus));
            }
        }
    }
    out.sort();
    out
}

pub fn concurrency(text: &str) -> Vec<String> {
    let line = text
        .lines()
        .find(|l| {
            l.trim_start().starts_with("concurrency_array=(") || l.contains("BENCH_CONCURRENCY:-")
        })
        .unwrap_or("");
    let inner = line.split(['(', ')']).nth(1).unwrap_or("");
    let inner = inner
        .split(":-")
        .last()
        .unwrap_or(inner)
        .trim_end_matches('}');
    inner.split_whitespace().map(str::to_string).collect()
}

/// `bash -n` on a script (None when it parses, or when bash is missing).
pub fn bash_syntax_error(text: &str) -> Option<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(text.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned())
}
