//! `xpyd sweep`: every point equals `xpyd run` on a copy of the file with that
//! value written in, over the seed examples (on whatever database is found:
//! the measured one in CI, the built-in specs otherwise).

use std::path::{Path, PathBuf};
use xpyd::exp::vary::{parse_values, VaryKey};
use xpyd::report::Row;
use xpyd::run::{CancelToken, RunOptions, Session};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The file with `key: value` written into every experiment: replaced where
/// the key is written, added after `total_gpus:` (same indentation) where not.
fn with_value(text: &str, key: &str, value: &str) -> String {
    let blocks: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::new();
    let mut i = 0;
    while i < blocks.len() {
        let line = blocks[i];
        let top_level =
            !line.starts_with(' ') && line.trim_end().ends_with(':') && !line.starts_with('#');
        out.push_str(line);
        i += 1;
        if !top_level || line.starts_with("exps") {
            continue;
        }
        // One experiment: its lines up to the next top-level line.
        let start = i;
        while i < blocks.len() && (blocks[i].starts_with(' ') || blocks[i].trim().is_empty()) {
            i += 1;
        }
        let body = &blocks[start..i];
        let has = body.iter().any(|l| {
            l.trim_start().starts_with(&format!("{key}:"))
                && l.starts_with("  ")
                && !l.starts_with("   ")
        });
        for l in body {
            if l.starts_with(&format!("  {key}:")) {
                out.push_str(&format!("  {key}: {value}\n"));
            } else {
                out.push_str(l);
                if !has && l.starts_with("  total_gpus:") {
                    out.push_str(&format!("  {key}: {value}\n"));
                }
            }
        }
    }
    out
}

fn headline(r: &Row) -> (String, f64, f64, f64, u32) {
    let layout = match (&r.parallel, &r.prefill, &r.decode) {
        (Some(p), _, _) => format!("{p} bs{:?}", r.bs),
        (None, Some(p), Some(d)) => format!(
            "{}x{} {}x{} bs{}",
            p.workers, p.parallel, d.workers, d.parallel, d.bs
        ),
        _ => String::new(),
    };
    (
        layout,
        r.tokens_per_s_per_gpu_cluster,
        r.ttft_ms,
        r.tpot_ms,
        r.total_gpus_used,
    )
}

#[test]
fn sweep_points_equal_runs_of_edited_copies() {
    let session = Session::open_in_memory(None).expect("session");
    let opts = RunOptions {
        top_n: 1,
        ..Default::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&str, &str, &str); 5] = [
        ("quickstart.yaml", "isl", "2000,6000"),
        ("qwen3_32b.yaml", "tpot", "25,60"),
        ("mtp.yaml", "osl", "500"),
        ("hetero.yaml", "total_gpus", "8"),
        ("deepseek_v3_compare.yaml", "isl", "2000"),
    ];
    for (file, key, spec) in cases {
        let path = root().join("examples").join(file);
        let k = VaryKey::parse(key).expect("key");
        let values = parse_values(k, spec).expect("values");
        let swept = xpyd::sweep::sweep(
            &session,
            &path,
            k,
            &values,
            &opts,
            &CancelToken::new(),
            &|_| {},
        )
        .expect("sweep");
        assert_eq!(swept.points.len(), values.len());
        let text = std::fs::read_to_string(&path).expect("read");
        for p in &swept.points {
            let v = xpyd::sweep::fmt_value(k, p.value);
            let copy = dir.path().join(format!("{key}-{v}-{file}"));
            std::fs::write(&copy, with_value(&text, key, &v)).expect("write");
            let run = session
                .run_file(&copy, &opts, &CancelToken::new(), &|_| {})
                .expect("run");
            let mut a: Vec<_> = p
                .experiments
                .iter()
                .map(|c| {
                    (
                        c.experiment.clone(),
                        c.status,
                        c.best.as_ref().map(headline),
                    )
                })
                .collect();
            let mut b: Vec<_> = run
                .experiments
                .iter()
                .map(|e| (e.name.clone(), e.status, e.best.as_ref().map(headline)))
                .collect();
            a.sort_by(|x, y| x.0.cmp(&y.0));
            b.sort_by(|x, y| x.0.cmp(&y.0));
            assert_eq!(a, b, "{file} {key}={v}");
            assert!(
                a.iter().any(|x| x.2.is_some()),
                "{file} {key}={v}: nothing ran"
            );
        }
    }
}

#[test]
fn the_copy_helper_writes_the_key() {
    let t = "exps: [a]\na:\n  total_gpus: 8\n  isl: 100\nb:\n  total_gpus: 4\n";
    assert_eq!(
        with_value(t, "isl", "7"),
        "exps: [a]\na:\n  total_gpus: 8\n  isl: 7\nb:\n  total_gpus: 4\n  isl: 7\n"
    );
}
