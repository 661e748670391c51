//! "Did you mean" suggestions by edit distance.

/// Optimal-string-alignment distance (Levenshtein plus adjacent transposition),
/// over chars, case-insensitive. Inputs are clipped so a huge key costs little.
pub fn distance(a: &str, b: &str) -> usize {
    const CAP: usize = 64;
    let a: Vec<char> = a.chars().take(CAP).flat_map(|c| c.to_lowercase()).collect();
    let b: Vec<char> = b.chars().take(CAP).flat_map(|c| c.to_lowercase()).collect();
    let (n, m) = (a.len(), b.len());
    // Full table: tiny inputs, and the transposition rule needs row i-2.
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

/// The closest candidate, if it is close enough to be a plausible misspelling.
pub fn closest<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let len = word.chars().count();
    // Allow roughly one edit per three characters, at least one, at most three.
    let limit = (len / 3).clamp(1, 3);
    let lw = word.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    let mut affix: Option<&str> = None;
    for c in candidates {
        let d = distance(word, c);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
        // A truncated or extended name ("gemm_quant", "aggregated") is still a clear hint.
        let lc = c.to_lowercase();
        if affix.is_none() && len >= 3 && (lc.starts_with(&lw) || lw.starts_with(&lc)) {
            affix = Some(c);
        }
    }
    best.map(|(_, c)| c).or(affix).map(str::to_string)
}

/// `did you mean 'x'?` for the closest candidate, if any.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    closest(word, candidates).map(|c| format!("did you mean '{c}'?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("tp_lst", "tp_list"), 1);
        assert_eq!(distance("tpot", "ttft"), 2);
        assert_eq!(distance("sevring_mode", "serving_mode"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("H100_SXM", "h100_sxm"), 0);
    }

    #[test]
    fn suggestions() {
        let keys = ["tp_list", "pp_list", "dp_list", "moe_tp_list"];
        assert_eq!(closest("tp_lst", keys), Some("tp_list".into()));
        assert_eq!(closest("banana", keys), None);
        assert_eq!(closest("aggregated", ["agg", "disagg"]), Some("agg".into()));
        assert_eq!(
            closest("gemm_quant", ["gemm_quant_mode"]),
            Some("gemm_quant_mode".into())
        );
        assert_eq!(
            did_you_mean("h100_sx", ["h100_sxm", "h200_sxm"]),
            Some("did you mean 'h100_sxm'?".into())
        );
    }
}
