//! From the pooled candidate frame to what users read: the cluster metric, the
//! Pareto front, and the best / top-N rows under the user's SLA.

use crate::report::Row;
use std::cmp::Ordering;

/// The batch a row is known by, for the tie rule: agg `bs`; disagg decode
/// batch, then prefill batch.
fn batch_key(r: &Row) -> (u32, u32) {
    match (&r.decode, &r.prefill) {
        (Some(d), Some(p)) => (d.bs, p.bs),
        _ => (r.bs.unwrap_or(0), 0),
    }
}

/// xpyd's order among rows tied on throughput. Values are rounded to the
/// printed precision where they are computed, so a tie is plain equality.
/// The reference leaves such ties to pandas' unstable sort; xpyd picks what
/// serves the user: higher tokens/s/user, then fewer GPUs, then the smaller batch.
pub fn tie_break(a: &Row, b: &Row) -> Ordering {
    b.tokens_per_s_per_user
        .total_cmp(&a.tokens_per_s_per_user)
        .then(a.total_gpus_used.cmp(&b.total_gpus_used))
        .then(a.num_total_gpus.cmp(&b.num_total_gpus))
        .then(batch_key(a).cmp(&batch_key(b)))
}

/// Best first: tokens/s/gpu_cluster, then tokens/s/gpu, then [`tie_break`].
pub fn best_first(a: &Row, b: &Row) -> Ordering {
    b.tokens_per_s_per_gpu_cluster
        .total_cmp(&a.tokens_per_s_per_gpu_cluster)
        .then(b.tokens_per_s_per_gpu.total_cmp(&a.tokens_per_s_per_gpu))
        .then_with(|| tie_break(a, b))
}

/// Whole replicas of `replica_gpus` GPUs that fit in `total_gpus`.
pub fn replicas(replica_gpus: u32, total_gpus: u32) -> u32 {
    total_gpus.checked_div(replica_gpus).unwrap_or(0)
}

/// tokens/s/gpu charged for the GPUs a whole number of replicas leaves idle.
pub fn cluster_tokens_per_gpu(tokens_s_gpu: f64, replica_gpus: u32, total_gpus: u32) -> f64 {
    if replica_gpus == 0 || total_gpus == 0 {
        return 0.0;
    }
    let replicas = replicas(replica_gpus, total_gpus);
    tokens_s_gpu * replicas as f64 * replica_gpus as f64 / total_gpus as f64
}

/// Non-dominated rows for (tokens/s/user ↑, tokens/s/gpu_cluster ↑), sorted by
/// tokens/s/user. Of rows equal on both axes the one first in [`tie_break`]
/// order stays.
pub fn pareto_front(rows: &[Row]) -> Vec<Row> {
    let mut idx: Vec<usize> = (0..rows.len())
        .filter(|&i| {
            rows[i].tokens_per_s_per_user.is_finite()
                && rows[i].tokens_per_s_per_gpu_cluster.is_finite()
        })
        .collect();
    idx.sort_by(|&a, &b| {
        let (ra, rb) = (&rows[a], &rows[b]);
        ra.tokens_per_s_per_user
            .total_cmp(&rb.tokens_per_s_per_user)
            .then(
                rb.tokens_per_s_per_gpu_cluster
                    .total_cmp(&ra.tokens_per_s_per_gpu_cluster),
            )
            .then_with(|| tie_break(ra, rb))
    });
    let mut keep = vec![true; idx.len()];
    for i in 0..idx.len() {
        if !keep[i] {
            continue;
        }
        let (xi, yi) = (
            rows[idx[i]].tokens_per_s_per_user,
            rows[idx[i]].tokens_per_s_per_gpu_cluster,
        );
        for j in 0..idx.len() {
            if j != i && keep[j] {
                let (xj, yj) = (
                    rows[idx[j]].tokens_per_s_per_user,
                    rows[idx[j]].tokens_per_s_per_gpu_cluster,
                );
                if xj <= xi && yj <= yi {
                    keep[j] = false;
                }
            }
        }
    }
    idx.iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(&i, _)| rows[i].clone())
        .collect()
}

/// The grouping key for top-N: the worker layout (agg) or the decode layout (disagg).
pub fn group_key(r: &Row) -> String {
    match (&r.parallel, &r.decode) {
        (Some(p), _) => p.clone(),
        (None, Some(d)) => d.parallel.clone(),
        _ => String::new(),
    }
}

/// Best rows under `tpot ≤ target`, one per layout group, best first
/// ([`best_first`], ties by [`tie_break`]). When no row meets the target, the
/// closest rows (lowest TPOT) come back with `sla_met = false`.
pub fn top_n(rows: &[Row], tpot_target: f64, n: usize) -> Vec<Row> {
    let meets: Vec<&Row> = rows.iter().filter(|r| r.tpot_ms <= tpot_target).collect();
    let exceeded = meets.is_empty();
    let pool: Vec<&Row> = if exceeded {
        rows.iter().collect()
    } else {
        meets
    };
    let mut groups: Vec<(String, &Row)> = Vec::new();
    for r in pool {
        if !r.tokens_per_s_per_gpu_cluster.is_finite() || !r.tpot_ms.is_finite() {
            continue;
        }
        let k = group_key(r);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, best)) => {
                if best_first(r, best) == Ordering::Less {
                    *best = r;
                }
            }
            None => groups.push((k, r)),
        }
    }
    // pandas groupby orders groups by key before the final sort.
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<Row> = groups
        .into_iter()
        .map(|(_, r)| Row {
            sla_met: !exceeded,
            ..r.clone()
        })
        .collect();
    if exceeded {
        out.sort_by(|a, b| {
            a.tpot_ms
                .total_cmp(&b.tpot_ms)
                .then_with(|| best_first(a, b))
        });
    } else {
        out.sort_by(best_first);
    }
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(parallel: &str, user: f64, cluster: f64, tpot: f64) -> Row {
        Row {
            tokens_per_s_per_gpu: cluster,
            tokens_per_s_per_gpu_cluster: cluster,
            tokens_per_s_per_user: user,
            ttft_ms: 100.0,
            tpot_ms: tpot,
            request_latency_ms: 0.0,
            request_rate: 0.0,
            concurrency: 0.0,
            num_total_gpus: 1,
            replicas: 1,
            total_gpus_used: 1,
            memory_gib: 0.0,
            sla_met: true,
            seq_per_s: 0.0,
            seq_per_s_per_gpu: 0.0,
            tokens_per_s: 0.0,
            agg: None,
            parallel: Some(parallel.into()),
            bs: None,
            gpus_per_worker: None,
            ctx_tokens: None,
            prefill: None,
            decode: None,
            detail: None,
        }
    }

    fn tied(parallel: &str, user: f64, gpus: u32, bs: u32) -> Row {
        Row {
            total_gpus_used: gpus,
            num_total_gpus: gpus,
            bs: Some(bs),
            ..row(parallel, user, 500.0, 20.0)
        }
    }

    fn label(r: &Row) -> String {
        format!(
            "{} {} {}g bs{}",
            r.parallel.as_deref().unwrap_or(""),
            r.tokens_per_s_per_user,
            r.total_gpus_used,
            r.bs.unwrap_or(0)
        )
    }

    /// Rows tied on tokens/s/gpu: higher tokens/s/user, then fewer GPUs,
    /// then the smaller batch — whatever order they arrive in.
    #[test]
    fn tie_rule_orders_top_n_picks_and_front() {
        let rows = vec![
            tied("tp1", 30.0, 8, 64),
            tied("tp2", 40.0, 16, 32),
            tied("tp4", 40.0, 8, 96),
            tied("tp8", 40.0, 8, 48),
            // Same layout as tp1, same throughput: the faster row is its pick.
            tied("tp1", 35.0, 8, 128),
        ];
        for rotate in 0..rows.len() {
            let mut r = rows.clone();
            r.rotate_left(rotate);
            let top: Vec<String> = top_n(&r, 50.0, 5).iter().map(label).collect();
            assert_eq!(
                top,
                [
                    "tp8 40 8g bs48",
                    "tp4 40 8g bs96",
                    "tp2 40 16g bs32",
                    "tp1 35 8g bs128"
                ],
                "rotation {rotate}"
            );
            // On the front, equal points keep the row first in tie order.
            let front: Vec<String> = pareto_front(&r).iter().map(label).collect();
            assert_eq!(front, ["tp8 40 8g bs48"], "rotation {rotate}");
        }
    }

    #[test]
    fn cluster_metric_charges_idle_gpus() {
        assert_eq!(
            cluster_tokens_per_gpu(100.0, 6, 16),
            100.0 * 2.0 * 6.0 / 16.0
        );
        assert_eq!(cluster_tokens_per_gpu(100.0, 8, 16), 100.0);
    }

    #[test]
    fn front_is_non_dominated_and_sorted() {
        let rows = vec![
            row("a", 10.0, 100.0, 100.0),
            row("b", 20.0, 80.0, 50.0),
            row("c", 15.0, 70.0, 66.0), // dominated by b
            row("d", 20.0, 80.0, 50.0), // duplicate of b: the first stays
            row("e", 30.0, 10.0, 33.0),
        ];
        let f = pareto_front(&rows);
        let names: Vec<_> = f
            .iter()
            .map(|r| r.parallel.clone().unwrap_or_default())
            .collect();
        assert_eq!(names, ["a", "b", "e"]);
        for a in &f {
            for b in &f {
                let dominated = b.tokens_per_s_per_user >= a.tokens_per_s_per_user
                    && b.tokens_per_s_per_gpu_cluster >= a.tokens_per_s_per_gpu_cluster
                    && (b.tokens_per_s_per_user > a.tokens_per_s_per_user
                        || b.tokens_per_s_per_gpu_cluster > a.tokens_per_s_per_gpu_cluster);
                assert!(!dominated);
            }
        }
    }

    #[test]
    fn top_n_one_per_group_and_fallback() {
        let rows = vec![
            row("tp1", 10.0, 100.0, 100.0),
            row("tp1", 20.0, 90.0, 40.0),
            row("tp2", 30.0, 80.0, 30.0),
            row("tp2", 25.0, 85.0, 45.0),
        ];
        let t = top_n(&rows, 50.0, 5);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].tokens_per_s_per_gpu_cluster, 90.0);
        assert_eq!(t[1].tokens_per_s_per_gpu_cluster, 85.0);
        assert!(t.iter().all(|r| r.sla_met));
        let t = top_n(&rows, 10.0, 5);
        assert_eq!(t.len(), 2);
        assert!(t.iter().all(|r| !r.sla_met));
        // Sorted by closeness to the target: lowest TPOT first (group bests are 100 and 85 cluster).
        assert_eq!(t[0].tpot_ms, 45.0);
    }
}
