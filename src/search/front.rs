//! Pareto fronts over a chosen pair of metrics: the explorer's chart can put
//! TTFT, TPOT, request latency or concurrency on x and tokens/s/gpu or the
//! request rate on y. The reference's own front (tokens/s/user against
//! tokens/s/gpu_cluster) is [`super::pick::pareto_front`]; for that pair
//! [`front_by`] gives the same rows.

use super::pick::tie_break;
use crate::report::Row;
use serde::Serialize;

/// The chart's x axis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum XMetric {
    #[default]
    TokensPerUser,
    Ttft,
    Tpot,
    RequestLatency,
    Concurrency,
}

/// The chart's y axis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum YMetric {
    #[default]
    TokensPerGpuCluster,
    TokensPerGpu,
    RequestRate,
}

impl XMetric {
    pub const ALL: [XMetric; 5] = [
        XMetric::TokensPerUser,
        XMetric::Ttft,
        XMetric::Tpot,
        XMetric::RequestLatency,
        XMetric::Concurrency,
    ];

    pub fn value(self, r: &Row) -> f64 {
        match self {
            XMetric::TokensPerUser => r.tokens_per_s_per_user,
            XMetric::Ttft => r.ttft_ms,
            XMetric::Tpot => r.tpot_ms,
            XMetric::RequestLatency => r.request_latency_ms,
            XMetric::Concurrency => r.concurrency,
        }
    }

    /// Latencies are better low; throughput per user and concurrency high.
    pub fn higher_is_better(self) -> bool {
        matches!(self, XMetric::TokensPerUser | XMetric::Concurrency)
    }

    pub fn title(self) -> &'static str {
        match self {
            XMetric::TokensPerUser => "tok/s/user",
            XMetric::Ttft => "TTFT ms",
            XMetric::Tpot => "TPOT ms",
            XMetric::RequestLatency => "request latency ms",
            XMetric::Concurrency => "concurrency",
        }
    }

    pub fn next(self) -> XMetric {
        let i = Self::ALL.iter().position(|m| *m == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }
}

impl YMetric {
    pub const ALL: [YMetric; 3] = [
        YMetric::TokensPerGpuCluster,
        YMetric::TokensPerGpu,
        YMetric::RequestRate,
    ];

    pub fn value(self, r: &Row) -> f64 {
        match self {
            YMetric::TokensPerGpuCluster => r.tokens_per_s_per_gpu_cluster,
            YMetric::TokensPerGpu => r.tokens_per_s_per_gpu,
            YMetric::RequestRate => r.request_rate,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            YMetric::TokensPerGpuCluster => "tok/s/gpu_cluster",
            YMetric::TokensPerGpu => "tok/s/gpu",
            YMetric::RequestRate => "req/s",
        }
    }

    pub fn next(self) -> YMetric {
        let i = Self::ALL.iter().position(|m| *m == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }
}

/// Rows not dominated on (x, y), y always higher-is-better, sorted by x from
/// worst to best. Of rows equal on both, the one first in tie order stays.
pub fn front_by(rows: &[Row], x: XMetric, y: YMetric) -> Vec<Row> {
    // Orient x so that larger is better for the sweep below.
    let sx = |r: &Row| {
        if x.higher_is_better() {
            x.value(r)
        } else {
            -x.value(r)
        }
    };
    let mut idx: Vec<usize> = (0..rows.len())
        .filter(|&i| x.value(&rows[i]).is_finite() && y.value(&rows[i]).is_finite())
        .collect();
    // Best x first; ties by best y, then the tie rule.
    idx.sort_by(|&a, &b| {
        let (ra, rb) = (&rows[a], &rows[b]);
        sx(rb)
            .total_cmp(&sx(ra))
            .then(y.value(rb).total_cmp(&y.value(ra)))
            .then_with(|| tie_break(ra, rb))
    });
    // Walking from the best x, a row is on the front when its y beats every
    // row with a better-or-equal x.
    let mut best_y = f64::NEG_INFINITY;
    let mut keep = Vec::new();
    for i in idx {
        let yv = y.value(&rows[i]);
        if yv > best_y {
            best_y = yv;
            keep.push(rows[i].clone());
        }
    }
    keep.reverse();
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::pick::pareto_front;

    fn row(user: f64, cluster: f64, ttft: f64) -> Row {
        Row {
            tokens_per_s_per_user: user,
            tokens_per_s_per_gpu_cluster: cluster,
            tokens_per_s_per_gpu: cluster,
            ttft_ms: ttft,
            ..Default::default()
        }
    }

    #[test]
    fn default_pair_is_the_reference_front() {
        // A small deterministic spread with duplicates and dominated rows.
        let mut rows = Vec::new();
        for i in 0..40u32 {
            let u = ((i * 7) % 13) as f64 * 3.0;
            let c = ((i * 11) % 17) as f64 * 10.0;
            rows.push(row(u, c, 100.0));
        }
        let key = |v: &[Row]| -> Vec<(f64, f64)> {
            v.iter()
                .map(|r| (r.tokens_per_s_per_user, r.tokens_per_s_per_gpu_cluster))
                .collect()
        };
        assert_eq!(
            key(&front_by(
                &rows,
                XMetric::TokensPerUser,
                YMetric::TokensPerGpuCluster
            )),
            key(&pareto_front(&rows))
        );
    }

    #[test]
    fn lower_is_better_axes() {
        let rows = vec![
            row(0.0, 100.0, 500.0),
            row(0.0, 80.0, 200.0),
            row(0.0, 70.0, 300.0),
        ];
        let f = front_by(&rows, XMetric::Ttft, YMetric::TokensPerGpuCluster);
        let ttfts: Vec<f64> = f.iter().map(|r| r.ttft_ms).collect();
        // 300 ms at 70 is beaten by 200 ms at 80.
        assert_eq!(ttfts, [500.0, 200.0]);
    }

    #[test]
    fn axes_cycle_through_every_metric() {
        let mut x = XMetric::default();
        for _ in 0..XMetric::ALL.len() {
            x = x.next();
        }
        assert_eq!(x, XMetric::default());
        assert_eq!(YMetric::RequestRate.next(), YMetric::TokensPerGpuCluster);
    }
}
