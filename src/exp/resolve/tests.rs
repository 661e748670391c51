use super::mtp::{fold_accept_rates, DEFAULT_ACCEPT_RATES};
use super::replica::{default_replica_sizes, replica_sums};

#[test]
fn fold_matches_reference_examples() {
    assert!((fold_accept_rates(2, &DEFAULT_ACCEPT_RATES) - 1.105).abs() < 1e-12);
    assert!((fold_accept_rates(1, &[0.85, 0.0]) - 0.85).abs() < 1e-12);
    assert_eq!(fold_accept_rates(3, &[1.0]), 1.0);
    assert_eq!(fold_accept_rates(0, &[0.9]), 0.0);
}

#[test]
fn replica_sum_bitset() {
    let r = replica_sums(&[2], 2, &[3], 1, 200);
    let has = |n: usize| r[n / 64] >> (n % 64) & 1 == 1;
    assert!(has(5) && has(7));
    assert!(!has(4) && !has(6) && !has(8));
    let r = replica_sums(&[64], 1, &[64], 1, 200);
    assert!(r[2] & 1 == 1); // 128
}

#[test]
fn replica_defaults() {
    let v = default_replica_sizes();
    assert_eq!(v.len(), 19);
    assert_eq!(v[4], 16);
    assert_eq!(v.last(), Some(&128));
}
