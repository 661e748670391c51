//! One workload or SLA value set in every experiment of a file, as if it were
//! written there: what a sensitivity sweep varies (`xpyd sweep --vary`). The
//! value replaces the experiment's own before resolution, so defaults, checks
//! and derived lists (GPU budgets, replica sizes) follow it exactly as they
//! follow an edited file.

use super::schema::{RawExp, Sp};

/// A key a sweep can vary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VaryKey {
    Isl,
    Osl,
    Prefix,
    Ttft,
    Tpot,
    TotalGpus,
}

impl VaryKey {
    pub const ALL: [VaryKey; 6] = [
        VaryKey::Isl,
        VaryKey::Osl,
        VaryKey::Prefix,
        VaryKey::Ttft,
        VaryKey::Tpot,
        VaryKey::TotalGpus,
    ];

    pub fn name(self) -> &'static str {
        match self {
            VaryKey::Isl => "isl",
            VaryKey::Osl => "osl",
            VaryKey::Prefix => "prefix",
            VaryKey::Ttft => "ttft",
            VaryKey::Tpot => "tpot",
            VaryKey::TotalGpus => "total_gpus",
        }
    }

    pub fn parse(s: &str) -> Result<VaryKey, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|k| k.name()).collect();
                format!("cannot vary '{s}': choose one of {}", names.join(", "))
            })
    }

    /// Whether the key takes whole numbers (token counts, GPU counts).
    pub fn integral(self) -> bool {
        !matches!(self, VaryKey::Ttft | VaryKey::Tpot)
    }

    /// The largest value the schema accepts for an integral key.
    fn max(self) -> f64 {
        match self {
            VaryKey::TotalGpus => super::schema::MAX_GPUS as f64,
            _ => 10_000_000.0,
        }
    }

    /// The value is one the file could hold for this key.
    pub fn check(self, v: f64) -> Result<(), String> {
        let ok = v.is_finite()
            && match self {
                VaryKey::Prefix => v >= 0.0,
                _ => v > 0.0,
            }
            && (!self.integral() || (v.fract() == 0.0 && v <= self.max()));
        if ok {
            Ok(())
        } else if self.integral() {
            Err(format!(
                "{} must be a whole number from {} to {} (got {v})",
                self.name(),
                if self == VaryKey::Prefix { 0 } else { 1 },
                self.max()
            ))
        } else {
            Err(format!(
                "{} must be a positive number of ms (got {v})",
                self.name()
            ))
        }
    }
}

/// `key = value` for every experiment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Setting {
    pub key: VaryKey,
    pub value: f64,
}

impl Setting {
    pub(super) fn apply(self, r: &mut RawExp) {
        // Messages about the value point at the experiment's key, or the experiment.
        let at = r.pos;
        let int = |old: &Option<Sp<u32>>| {
            Some(Sp {
                v: self.value as u32,
                pos: old.as_ref().map_or(at, |s| s.pos),
            })
        };
        let ms = |old: &Option<Sp<f64>>| {
            Some(Sp {
                v: self.value,
                pos: old.as_ref().map_or(at, |s| s.pos),
            })
        };
        match self.key {
            VaryKey::Isl => r.isl = int(&r.isl),
            VaryKey::Osl => r.osl = int(&r.osl),
            VaryKey::Prefix => r.prefix = int(&r.prefix),
            VaryKey::Ttft => r.ttft = ms(&r.ttft),
            VaryKey::Tpot => r.tpot = ms(&r.tpot),
            VaryKey::TotalGpus => r.total_gpus.v = self.value as u32,
        }
    }
}

/// Values of a `--vary` specification: `FROM:TO:STEP` (inclusive, at most
/// 1000 points) or a list `v1,v2,...`.
pub fn parse_values(key: VaryKey, spec: &str) -> Result<Vec<f64>, String> {
    let num = |s: &str| -> Result<f64, String> {
        s.trim()
            .parse::<f64>()
            .map_err(|_| format!("'{s}' is not a number (in --vary {}={spec})", key.name()))
    };
    let values: Vec<f64> = if spec.contains(':') {
        let parts: Vec<&str> = spec.split(':').collect();
        let [from, to, step] = parts.as_slice() else {
            return Err(format!(
                "--vary {}={spec}: write FROM:TO:STEP or v1,v2,...",
                key.name()
            ));
        };
        let (from, to, step) = (num(from)?, num(to)?, num(step)?);
        // NaN steps are refused too.
        if step.is_nan() || step <= 0.0 || to < from {
            return Err(format!(
                "--vary {}={spec}: STEP must be positive and TO at least FROM",
                key.name()
            ));
        }
        let n = ((to - from) / step + 1e-9).floor() as usize + 1;
        if n > 1000 {
            return Err(format!(
                "--vary {}={spec}: {n} points; at most 1000",
                key.name()
            ));
        }
        (0..n).map(|i| from + step * i as f64).collect()
    } else {
        spec.split(',').map(num).collect::<Result<_, _>>()?
    };
    if values.is_empty() {
        return Err(format!("--vary {}: no values", key.name()));
    }
    for v in &values {
        key.check(*v)?;
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_lists() {
        assert_eq!(
            parse_values(VaryKey::Isl, "1000:4000:1000"),
            Ok(vec![1000.0, 2000.0, 3000.0, 4000.0])
        );
        assert_eq!(parse_values(VaryKey::Tpot, "20,35.5"), Ok(vec![20.0, 35.5]));
        assert!(parse_values(VaryKey::Isl, "1000:4000").is_err());
        assert!(parse_values(VaryKey::Isl, "10.5").is_err());
        assert!(parse_values(VaryKey::Osl, "0").is_err());
        assert!(parse_values(VaryKey::Prefix, "0").is_ok());
        assert!(parse_values(VaryKey::Ttft, "4000:1000:10").is_err());
        assert!(VaryKey::parse("gemm").is_err());
        assert_eq!(VaryKey::parse("total_gpus"), Ok(VaryKey::TotalGpus));
    }
}
