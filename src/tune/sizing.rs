//! The sizing question asked from the explorer: how many GPUs each
//! experiment needs to serve a target load, by the same ranking
//! `xpyd recommend` uses (replicas of the cheapest layout meeting the SLA).

use crate::report::{ExperimentReport, Row};
use crate::verbs::recommend::{rank, LoadTarget};

/// The target as the explorer shows it: `12.5 req/s`, `256 concurrent`.
pub fn target_label(t: LoadTarget) -> String {
    match t {
        LoadTarget::RequestRate(r) => format!("{} req/s", trim(r)),
        LoadTarget::Concurrency(c) => format!("{} concurrent", trim(c)),
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `exp`'s cheapest deployment for `target`: its row sized to the replicas
/// the load needs (`replicas`, `total_gpus_used`), or `None` when no row
/// meets the TPOT target. Every feasible row is a candidate when the
/// explorer kept them, else the top and Pareto rows.
pub fn sized_best(exp: &ExperimentReport, target: LoadTarget) -> Option<Row> {
    let pool: Vec<Row> = if exp.feasible.is_empty() {
        exp.top.iter().chain(&exp.pareto).cloned().collect()
    } else {
        exp.feasible.clone()
    };
    let (rows, sla_met) = rank(&pool, exp.tpot, target, 1);
    rows.into_iter().next().filter(|_| sla_met)
}

/// A typed target: a number is requests/s; `c64`, `64c` or `64 conc…` a
/// concurrency; `off` or nothing clears it.
pub fn parse_target(text: &str) -> Result<Option<LoadTarget>, String> {
    let t = text.trim().to_ascii_lowercase();
    if t.is_empty() || t == "off" {
        return Ok(None);
    }
    let (num, conc) = if let Some(rest) = t.strip_prefix('c') {
        (rest.trim().to_string(), true)
    } else if let Some(i) = t.find(|c: char| c.is_ascii_alphabetic()) {
        let unit = t[i..].trim();
        let conc = unit.starts_with('c');
        if !(conc || unit.starts_with("req") || unit.starts_with("rps")) {
            return Err(format!(
                "'{text}': a number (req/s), or c64 for a concurrency"
            ));
        }
        (t[..i].trim().to_string(), conc)
    } else {
        (t.clone(), false)
    };
    let v: f64 = num
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v > 0.0)
        .ok_or_else(|| format!("'{text}': a positive number (req/s), or c64 for a concurrency"))?;
    Ok(Some(if conc {
        LoadTarget::Concurrency(v)
    } else {
        LoadTarget::RequestRate(v)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(tpot: f64, rate: f64, conc: f64, gpus: u32, replicas: u32) -> Row {
        Row {
            parallel: Some(format!("tp{gpus}pp1dp1etp1ep1")),
            tpot_ms: tpot,
            seq_per_s: rate,
            request_rate: rate * f64::from(replicas),
            concurrency: conc * f64::from(replicas),
            num_total_gpus: gpus,
            replicas,
            total_gpus_used: gpus * replicas,
            tokens_per_s_per_gpu: 100.0 / f64::from(gpus),
            ..Default::default()
        }
    }

    #[test]
    fn the_cheapest_layout_meeting_the_sla_sized_to_the_load() {
        let exp = ExperimentReport {
            tpot: 30.0,
            // 1 GPU serves 2 req/s; 4 GPUs serve 10 req/s; 8 GPUs miss TPOT.
            top: vec![
                row(25.0, 2.0, 16.0, 1, 8),
                row(20.0, 10.0, 64.0, 4, 2),
                row(40.0, 100.0, 512.0, 8, 1),
            ],
            ..Default::default()
        };
        // 20 req/s: 10 × 1 GPU = 10 GPUs, or 2 × 4 GPUs = 8 GPUs.
        let r = sized_best(&exp, LoadTarget::RequestRate(20.0)).expect("sized");
        assert_eq!((r.replicas, r.total_gpus_used, r.num_total_gpus), (2, 8, 4));
        // 6 req/s: 3 × 1 GPU beats 1 × 4 GPUs.
        let r = sized_best(&exp, LoadTarget::RequestRate(6.0)).expect("sized");
        assert_eq!((r.replicas, r.total_gpus_used, r.num_total_gpus), (3, 3, 1));
        // 128 concurrent: 8 × 1 GPU (16 each) or 2 × 4 GPUs (64 each), 8
        // GPUs either way: the tie goes to the higher tokens/s/gpu.
        let r = sized_best(&exp, LoadTarget::Concurrency(128.0)).expect("sized");
        assert_eq!((r.replicas, r.total_gpus_used, r.num_total_gpus), (8, 8, 1));
        // No row meets a 10 ms TPOT.
        let strict = ExperimentReport { tpot: 10.0, ..exp };
        assert_eq!(sized_best(&strict, LoadTarget::RequestRate(1.0)), None);
    }

    #[test]
    fn typed_targets() {
        assert_eq!(
            parse_target("12.5"),
            Ok(Some(LoadTarget::RequestRate(12.5)))
        );
        assert_eq!(
            parse_target("4 req/s"),
            Ok(Some(LoadTarget::RequestRate(4.0)))
        );
        assert_eq!(parse_target("c64"), Ok(Some(LoadTarget::Concurrency(64.0))));
        assert_eq!(
            parse_target("256 conc"),
            Ok(Some(LoadTarget::Concurrency(256.0)))
        );
        assert_eq!(parse_target(" off "), Ok(None));
        assert!(parse_target("-3").is_err());
        assert!(parse_target("3 gpus").is_err());
        assert_eq!(target_label(LoadTarget::RequestRate(12.5)), "12.5 req/s");
        assert_eq!(target_label(LoadTarget::Concurrency(64.0)), "64 concurrent");
    }
}
