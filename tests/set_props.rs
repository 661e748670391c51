//! `xpyd set` properties over real files: for random (file, experiment,
//! setting, valid value), (a) the edited file loads and the loaded tasks
//! equal the old ones with exactly that change, and (b) the bytes that differ
//! form one region inside the splice, holding no comment, with line endings kept.

mod common;

use common::fake_catalog::FakeCatalog;
use proptest::prelude::*;
use std::path::Path;
use std::sync::OnceLock;
use xpyd::exp::{load_str, Roles, Task};

/// Files from the loader corpus that load with the fake catalog.
fn files() -> &'static Vec<(String, Vec<Task>)> {
    static FILES: OnceLock<Vec<(String, Vec<Task>)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut paths = Vec::new();
        for dir in ["examples"] {
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "yaml") {
                    paths.push(p);
                }
            }
        }
        for dir in ["tests/fixtures/parity_cases", "tests/warnings"] {
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                let p = e.unwrap().path().join("input.yaml");
                if p.exists() {
                    paths.push(p);
                }
            }
        }
        paths.sort();
        let out: Vec<(String, Vec<Task>)> = paths
            .iter()
            .filter_map(|p| {
                let text = std::fs::read_to_string(p).ok()?;
                let f = load_str(&text, "f", &FakeCatalog).ok()?;
                (!f.tasks.is_empty()).then_some((text, f.tasks))
            })
            .collect();
        assert!(out.len() >= 10, "too few loadable files: {}", out.len());
        out
    })
}

/// Which setting to change.
#[derive(Clone, Debug)]
enum Setting {
    Isl(u32),
    Osl(u32),
    PrefixPermille(u32),
    Ttft(u32),
    Tpot(u32),
    /// Keep a random non-empty subset (by mask) of a role's resolved tp list.
    TpSubset {
        role: usize,
        mask: u32,
        tight: bool,
    },
}

fn setting() -> impl Strategy<Value = Setting> {
    prop_oneof![
        (1u32..=4000).prop_map(Setting::Isl),
        // The schema wants at least one decode step after the first token.
        (2u32..=2000).prop_map(Setting::Osl),
        (0u32..500).prop_map(Setting::PrefixPermille),
        (1u32..=5000).prop_map(Setting::Ttft),
        (1u32..=300).prop_map(Setting::Tpot),
        (0usize..2, 1u32..256, any::<bool>()).prop_map(|(role, mask, tight)| Setting::TpSubset {
            role,
            mask,
            tight
        }),
    ]
}

fn role_mut(t: &mut Task, role: usize) -> (&mut xpyd::exp::Role, &'static str) {
    match &mut t.roles {
        Roles::Agg { worker } => (worker, "worker_config"),
        Roles::Disagg {
            prefill, decode, ..
        } => {
            if role == 0 {
                (prefill, "prefill_worker_config")
            } else {
                (decode, "decode_worker_config")
            }
        }
    }
}

/// Key, value text and the task as it should load, or None if not applicable.
fn plan(t: &Task, s: &Setting) -> Option<(String, String, Task)> {
    let mut want = t.clone();
    let n = &t.name;
    let (key, value) = match *s {
        Setting::Isl(v) => {
            want.isl = v;
            want.prefix = want.prefix.min(v.saturating_sub(1));
            if t.prefix >= v {
                return None;
            }
            (format!("{n}.isl"), v.to_string())
        }
        Setting::Osl(v) => {
            want.osl = v;
            (format!("{n}.osl"), v.to_string())
        }
        Setting::PrefixPermille(p) => {
            let v = t.isl * p / 1000;
            want.prefix = v;
            (format!("{n}.prefix"), v.to_string())
        }
        Setting::Ttft(v) => {
            want.ttft = v as f64;
            (format!("{n}.ttft"), v.to_string())
        }
        Setting::Tpot(v) => {
            want.tpot = v as f64;
            (format!("{n}.tpot"), v.to_string())
        }
        Setting::TpSubset { role, mask, tight } => {
            let (r, section) = role_mut(&mut want, role);
            let tp: Vec<u32> = r
                .search
                .tp
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << (i % 8)) != 0)
                .map(|(_, v)| *v)
                // A tp alone must fit a worker size (pp and dp can be 1).
                .filter(|v| r.search.num_gpu.contains(v))
                .collect();
            if tp.is_empty() {
                return None;
            }
            r.search.tp = tp.clone();
            let items: Vec<String> = tp.iter().map(u32::to_string).collect();
            let sep = if tight { "," } else { ", " };
            (
                format!("{n}.config.{section}.tp_list"),
                format!("[{}]", items.join(sep)),
            )
        }
    };
    Some((key, value, want))
}

/// Tasks without their notes (free text the loader may reword with the workload).
fn strip(ts: &[Task]) -> Vec<Task> {
    ts.iter()
        .cloned()
        .map(|mut t| {
            t.notes.clear();
            t
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn set_changes_exactly_one_value(
        file in 0usize..64,
        exp in 0usize..8,
        s in setting(),
        crlf in any::<bool>(),
    ) {
        let files = files();
        let (text, tasks) = &files[file % files.len()];
        let t = &tasks[exp % tasks.len()];
        let Some((key, value, want_task)) = plan(t, &s) else { return Ok(()) };
        let text = if crlf { text.replace('\n', "\r\n") } else { text.clone() };

        let splice = xpyd::edit::plan_splice(&text, &key, &value)
            .map_err(|e| TestCaseError::fail(format!("{key}={value}: {e}")))?;
        let new = splice.apply(&text);

        // (a) It loads, the edited experiment changed as intended, the rest did not.
        let loaded = match load_str(&new, "f", &FakeCatalog) {
            Ok(f) => f,
            // Some tp subsets leave no layout with the model's other lists, or
            // no xPyD replica within the file's replica limits: the value was
            // not a valid setting after all.
            Err(e)
                if e.to_string().contains("no parallel layout")
                    || e.to_string().contains("no xPyD replica fits") =>
            {
                return Ok(())
            }
            Err(e) => return Err(TestCaseError::fail(format!("{key}={value}:\n{e}\n---\n{new}"))),
        };
        let mut want: Vec<Task> = tasks.clone();
        let i = want.iter().position(|x| x.name == t.name).unwrap();
        want[i] = want_task;
        prop_assert_eq!(strip(&loaded.tasks), strip(&want), "{}={}\n{}", key, value, new);

        // (b) One changed region, inside the splice, with no comment or line removed.
        let (a, b) = (text.as_bytes(), new.as_bytes());
        let p = a.iter().zip(b).take_while(|(x, y)| x == y).count();
        let max_s = a.len().min(b.len()) - p;
        let s_len = a.iter().rev().zip(b.iter().rev()).take(max_s).take_while(|(x, y)| x == y).count();
        let removed = &text[p..a.len() - s_len];
        // Greedy matching can slide an insertion past the splice start when the
        // inserted bytes repeat what follows, so only removed bytes are pinned.
        prop_assert!(p >= splice.start, "changed before the splice");
        prop_assert!(
            removed.is_empty() || a.len() - s_len <= splice.end,
            "changed after the splice: {:?}",
            removed
        );
        prop_assert!(!removed.contains('#'), "a comment was touched: {:?}", removed);
        let added = &new[p..b.len() - s_len];
        prop_assert!(!added.contains('#'));
        if crlf {
            prop_assert!(!new.replace("\r\n", "").contains('\n'), "bare LF written");
        }
        // Setting the same value again is a no-op.
        prop_assert_eq!(xpyd::edit::plan_edit(&new, &key, &value).unwrap(), new);
    }
}
