//! Comparing xpyd's CSVs with the reference's where rows tie on tokens/s/gpu.
//!
//! The reference orders tied rows with pandas' unstable sort, so which of
//! them it keeps is arbitrary; xpyd keeps the one first in its documented tie
//! order (higher tokens/s/user, fewer GPUs, smaller batch). A file listed in
//! a case's `ties.txt` is therefore compared on what a tie cannot change:
//!
//! - `best_config_topn.csv`: the ranking (tokens/s/gpu_cluster) sequence is
//!   the reference's, and at each rank value xpyd's rows are at least as good
//!   in tokens/s/gpu and tokens/s/user (each sorted, pointwise);
//! - `pareto.csv`: every reference point is weakly dominated by an xpyd point
//!   (a tie picked for users can only lift the front) and the best
//!   tokens/s/gpu_cluster is the reference's;
//! - marked `any` (more layouts tie than the top N holds): the tokens/s/gpu
//!   cluster sequence alone.
//!
//! Every other file must be byte-identical.

#![allow(dead_code)]

/// How one file is compared, from the case's `ties.txt`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Compare {
    Exact,
    Ties,
    AnyTies,
}

/// The mode `ties.txt` gives `rel` (`<experiment>/<file>.csv`).
pub fn mode(ties: &str, rel: &str) -> Compare {
    for l in ties.lines().map(str::trim) {
        if l == format!("{rel} any") {
            return Compare::AnyTies;
        }
        if l == rel {
            return Compare::Ties;
        }
    }
    Compare::Exact
}

fn column(csv: &str, name: &str) -> Vec<f64> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let i = header
        .iter()
        .position(|h| *h == name)
        .unwrap_or_else(|| panic!("column {name}"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .nth(i)
                .and_then(|c| c.parse().ok())
                .unwrap_or(f64::NAN)
        })
        .collect()
}

fn top_ok(ours: &str, reference: &str, any: bool) -> bool {
    // The top-N is ranked by tokens/s/gpu_cluster: that sequence is fixed.
    let key = "tokens/s/gpu_cluster";
    let (c_o, c_r) = (column(ours, key), column(reference, key));
    if c_o != c_r {
        return false;
    }
    if any {
        return true;
    }
    // At each rank value, xpyd's rows are at least as good: tokens/s/gpu and
    // tokens/s/user, each sorted, pointwise.
    let mut values = c_r.clone();
    values.dedup();
    let at = |csv: &str, col: &str, v: f64| {
        let mut s: Vec<f64> = column(csv, key)
            .iter()
            .zip(column(csv, col))
            .filter(|(c, _)| **c == v)
            .map(|(_, x)| x)
            .collect();
        s.sort_by(|a, b| b.total_cmp(a));
        s
    };
    values.iter().all(|&v| {
        ["tokens/s/gpu", "tokens/s/user"].iter().all(|col| {
            at(ours, col, v)
                .iter()
                .zip(at(reference, col, v))
                .all(|(o, r)| *o >= r)
        })
    })
}

fn pareto_ok(ours: &str, reference: &str) -> bool {
    let pts = |csv: &str| -> Vec<(f64, f64)> {
        column(csv, "tokens/s/user")
            .into_iter()
            .zip(column(csv, "tokens/s/gpu_cluster"))
            .collect()
    };
    let (o, r) = (pts(ours), pts(reference));
    let best = |p: &[(f64, f64)]| p.iter().map(|x| x.1).fold(f64::NEG_INFINITY, f64::max);
    !o.is_empty()
        && best(&o) == best(&r)
        && r.iter()
            .all(|(ru, rc)| o.iter().any(|(ou, oc)| ou >= ru && oc >= rc))
}

/// Whether `ours` matches `reference` under `mode`; `file` is the file name
/// (`pareto.csv` or `best_config_topn.csv`).
pub fn same(file: &str, mode: Compare, ours: &str, reference: &str) -> bool {
    match mode {
        Compare::Exact => ours.trim_end() == reference.trim_end(),
        Compare::AnyTies => top_ok(ours, reference, true),
        Compare::Ties if file.starts_with("pareto") => pareto_ok(ours, reference),
        Compare::Ties => top_ok(ours, reference, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "tokens/s/gpu,tokens/s/user,tokens/s/gpu_cluster";

    #[test]
    fn tie_comparisons_catch_real_differences() {
        let r = format!("{HEAD}\n10,5,10\n10,7,10\n8,9,8\n");
        // Faster per user at the same throughput: fine.
        let o = format!("{HEAD}\n10,8,10\n10,7,10\n8,9,8\n");
        assert!(same("best_config_topn.csv", Compare::Ties, &o, &r));
        // Slower per user at a tie, or another throughput: not fine.
        let slow = format!("{HEAD}\n10,5,10\n10,4,10\n8,9,8\n");
        assert!(!same("best_config_topn.csv", Compare::Ties, &slow, &r));
        let other = format!("{HEAD}\n10,8,10\n9,7,9\n8,9,8\n");
        assert!(!same("best_config_topn.csv", Compare::Ties, &other, &r));
        // A front that lost a point, or gained throughput at the top.
        let lost = format!("{HEAD}\n10,8,10\n");
        assert!(!same("pareto.csv", Compare::Ties, &lost, &r));
        let lifted = format!("{HEAD}\n10,8,10\n8,9,8\n");
        assert!(same("pareto.csv", Compare::Ties, &lifted, &r));
        let inflated = format!("{HEAD}\n11,8,11\n8,9,8\n");
        assert!(!same("pareto.csv", Compare::Ties, &inflated, &r));
    }
}
