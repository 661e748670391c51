//! `xpyd bench`: how long one file takes to search, cold (fresh `xpyd run`
//! processes with and without the on-disk caches) and warm (re-searches in
//! one in-process session after typical edits), with peak RSS and engine
//! evaluation counts.

use crate::report::RunReport;
use crate::run::{CancelToken, Progress, RunOptions, Session};
use std::path::Path;

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// `xpyd bench`: cold process time, warm re-search after edits, peak RSS and
/// engine evaluations, for one file. Timings are medians over `runs`.
pub fn bench(path: &Path, opts: &RunOptions, runs: usize) -> Result<String, String> {
    use std::time::Instant;
    let runs = runs.max(1);
    let exe = std::env::current_exe().map_err(|e| format!("locating the xpyd binary: {e}"))?;
    // One `xpyd run` child with its own cache folders; wall time in ms.
    let scratch = std::env::temp_dir().join(format!("xpyd-bench-{}", std::process::id()));
    let run_child = |meta: &Path, steps: &Path| -> Result<f64, String> {
        let t = Instant::now();
        let mut cmd = std::process::Command::new(&exe);
        cmd.arg("run").arg(path).arg("--format").arg("json");
        cmd.env("XPYD_META_CACHE", meta)
            .env("XPYD_STEP_CACHE", steps);
        if let Some(d) = &opts.systems_dir {
            cmd.arg("--systems-dir").arg(d);
        }
        let out = cmd
            .output()
            .map_err(|e| format!("running {}: {e}", exe.display()))?;
        // An experiment that cannot be set up fails the run while the others
        // still report: the run counts when it printed a report.
        if serde_json::from_slice::<RunReport>(&out.stdout).is_err() {
            return Err(format!(
                "xpyd run failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(t.elapsed().as_secs_f64() * 1000.0)
    };
    let (mut nothing, mut facts, mut stored) = (Vec::new(), Vec::new(), Vec::new());
    let cold = (|| -> Result<(), String> {
        let shared_meta = scratch.join("meta");
        let shared_steps = scratch.join("steps");
        for k in 0..runs {
            let fresh = scratch.join(format!("fresh{k}"));
            nothing.push(run_child(&fresh.join("meta"), &fresh.join("steps"))?);
            if k == 0 {
                // Fills the shared database facts (not timed).
                run_child(&shared_meta, &fresh.join("steps2"))?;
            }
            facts.push(run_child(&shared_meta, &fresh.join("steps3"))?);
        }
        run_child(&shared_meta, &shared_steps)?;
        for _ in 0..runs {
            stored.push(run_child(&shared_meta, &shared_steps)?);
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    cold?;

    // In memory only: the warm figures below must not read the step store.
    let session =
        Session::open_in_memory(opts.systems_dir.as_deref()).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let (file, _failed) =
        crate::exp::load_file_lenient(path, &session.catalog).map_err(|e| e.to_string())?;
    let label = path.display().to_string();
    let quiet = |_: Progress| {};
    session
        .run_tasks(&file.tasks, &label, opts, &CancelToken::new(), &quiet)
        .map_err(|e| e.to_string())?;
    let first_in_process = t.elapsed().as_secs_f64() * 1000.0;
    let first_evals = session.cache.evaluations();

    type Edit = (&'static str, fn(&mut crate::exp::Task, usize));
    let edits: [Edit; 5] = [
        ("same file again", |_, _| {}),
        ("isl + 100·k", |t, k| t.isl += 100 * (k as u32 + 1)),
        ("osl + 100·k", |t, k| t.osl += 100 * (k as u32 + 1)),
        ("ttft × (1 + 0.1·k)", |t, k| {
            t.ttft *= 1.0 + 0.1 * (k as f64 + 1.0)
        }),
        ("drop a tp option", |t, _| {
            let drop_last = |s: &mut crate::exp::SearchSpace| {
                if s.tp.len() > 1 {
                    s.tp.pop();
                }
            };
            match &mut t.roles {
                crate::exp::Roles::Agg { worker } => drop_last(&mut worker.search),
                crate::exp::Roles::Disagg { decode, .. } => drop_last(&mut decode.search),
            }
        }),
    ];
    let mut out = format!(
        "{}\n  database: {} ({})\n  cold process (xpyd run, median of {runs}):\n    nothing cached (table loads, database facts, every step): {:.0} ms\n    database facts cached, no steps (first run of a new file): {:.0} ms\n    step store from an earlier run of this file: {:.0} ms\n  first search in process: {:.0} ms, {} engine evaluations\n",
        path.display(),
        session.database_info().kind,
        session.database_info().source,
        median(nothing),
        median(facts),
        median(stored),
        first_in_process,
        first_evals
    );
    for (name, edit) in edits {
        let mut times = Vec::new();
        let mut firsts = Vec::new();
        let mut evals = Vec::new();
        for k in 0..runs {
            let mut tasks = file.tasks.clone();
            for t in &mut tasks {
                edit(t, k);
            }
            let before = session.cache.evaluations();
            let t0 = Instant::now();
            // When the explorer would first have something new to draw: a
            // streamed Pareto point or a finished experiment.
            let first = std::sync::Mutex::new(None::<f64>);
            let note_first = |p: Progress| {
                let shown = match &p {
                    Progress::Partial { pareto, .. } => !pareto.is_empty(),
                    Progress::ExperimentDone(_) => true,
                    Progress::Planned { .. } => false,
                };
                if let (true, Ok(mut f)) = (shown, first.lock()) {
                    f.get_or_insert(t0.elapsed().as_secs_f64() * 1000.0);
                }
            };
            session
                .run_tasks(&tasks, &label, opts, &CancelToken::new(), &note_first)
                .map_err(|e| e.to_string())?;
            let total = t0.elapsed().as_secs_f64() * 1000.0;
            times.push(total);
            firsts.push(first.lock().ok().and_then(|f| *f).unwrap_or(total));
            evals.push((session.cache.evaluations() - before) as f64);
        }
        out.push_str(&format!(
            "  warm re-search, {name}: median {:.1} ms (first results after {:.1} ms), {:.0} new engine evaluations\n",
            median(times),
            median(firsts),
            median(evals)
        ));
    }
    if let Some(mb) = peak_rss_mb() {
        out.push_str(&format!(
            "  peak RSS of the in-process searches: {mb:.0} MB\n"
        ));
    }
    Ok(out)
}
