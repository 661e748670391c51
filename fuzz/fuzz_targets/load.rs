//! Fuzz `load_str`: any input must give Ok or errors positioned inside the text.
#![no_main]

mod fuzz_catalog;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_catalog::check(data));
