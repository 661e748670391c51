//! Robustness properties: the loader never panics, and every error it reports
//! points inside the file (or carries no position at all).

mod common;

use common::fake_catalog::FakeCatalog;
use proptest::prelude::*;
use xpyd::exp::{load_file, load_str, LoadError};

const EXAMPLES: [&str; 5] = [
    include_str!("../examples/quickstart.yaml"),
    include_str!("../examples/qwen3_32b.yaml"),
    include_str!("../examples/deepseek_v3_compare.yaml"),
    include_str!("../examples/hetero.yaml"),
    include_str!("../examples/mtp.yaml"),
];

/// Every position is 0:0 (no position) or a real line:col of `text`.
fn positions_inside(text: &str, e: &LoadError) -> Result<(), String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Lines as YAML counts them: CR, LF and CRLF all end a line.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = text.split('\n').collect();
    for err in &e.errors {
        if err.line == 0 {
            continue;
        }
        let Some(line) = lines.get(err.line - 1) else {
            return Err(format!(
                "line {} beyond {} lines: {err}",
                err.line,
                lines.len()
            ));
        };
        let width = line.chars().count() + 1;
        if err.col == 0 || err.col > width {
            return Err(format!(
                "col {} outside line of width {width}: {err}",
                err.col
            ));
        }
        if err.source_line.is_none() {
            return Err(format!("no source line: {err}"));
        }
    }
    Ok(())
}

fn check(text: &str) -> Result<(), TestCaseError> {
    match load_str(text, "prop.yaml", &FakeCatalog) {
        Ok(_) => Ok(()),
        Err(e) => {
            prop_assert!(!e.errors.is_empty(), "Err without errors");
            positions_inside(text, &e).map_err(TestCaseError::fail)
        }
    }
}

#[derive(Clone, Debug)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, s: String },
    DupLine { line: usize },
    SwapLines { a: usize, b: usize },
    Indent { line: usize, by: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    let snippet = prop_oneof![
        Just(":".to_string()),
        Just("- ".to_string()),
        Just("\t".to_string()),
        Just("\"".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("{".to_string()),
        Just("&a ".to_string()),
        Just("*a".to_string()),
        Just("<<: ".to_string()),
        Just("\n".to_string()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999".to_string()),
        Just("null".to_string()),
        Just("é€😀".to_string()),
        Just("tp_lst".to_string()),
        Just("mode: replace".to_string()),
        Just("serving_mode: disagg".to_string()),
        "[ -~]{0,12}",
    ];
    prop_oneof![
        (any::<usize>(), 0usize..20).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), snippet).prop_map(|(at, s)| Edit::Insert { at, s }),
        any::<usize>().prop_map(|line| Edit::DupLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines { a, b }),
        (any::<usize>(), 0usize..5).prop_map(|(line, by)| Edit::Indent { line, by }),
    ]
}

/// Apply edits on char boundaries so the result stays valid UTF-8.
fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        match e {
            Edit::Delete { at, len } => {
                if chars.is_empty() {
                    continue;
                }
                let at = at % chars.len();
                let end = (at + len).min(chars.len());
                chars.drain(at..end);
            }
            Edit::Insert { at, s } => {
                let at = at % (chars.len() + 1);
                chars.splice(at..at, s.chars());
            }
            Edit::DupLine { line }
            | Edit::Indent { line, .. }
            | Edit::SwapLines { a: line, .. } => {
                let s: String = chars.iter().collect();
                let mut lines: Vec<String> = s.split('\n').map(str::to_string).collect();
                let n = lines.len();
                let i = line % n;
                match e {
                    Edit::DupLine { .. } => {
                        let l = lines[i].clone();
                        lines.insert(i, l);
                    }
                    Edit::Indent { by, .. } => {
                        lines[i] = format!("{}{}", " ".repeat(*by), lines[i])
                    }
                    Edit::SwapLines { b, .. } => lines.swap(i, b % n),
                    _ => {}
                }
                chars = lines.join("\n").chars().collect();
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let text = String::from_utf8_lossy(&bytes);
        check(&text)?;
    }

    #[test]
    fn random_yamlish_text_never_panics(text in "[a-z_:\\-\\[\\]{} \n\t\"'#&*0-9.,]{0,400}") {
        check(&text)?;
    }

    #[test]
    fn mutated_examples_never_panic(
        which in 0usize..EXAMPLES.len(),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        let text = apply(EXAMPLES[which], &edits);
        check(&text)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Through the file path too: raw bytes (often not UTF-8) with a BOM sometimes.
    #[test]
    fn raw_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), bom in any::<bool>()) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let p = dir.path().join("x.yaml");
        let mut data = if bom { vec![0xef, 0xbb, 0xbf] } else { Vec::new() };
        data.extend_from_slice(&bytes);
        std::fs::write(&p, &data).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Err(e) = load_file(&p, &FakeCatalog) {
            let text = String::from_utf8_lossy(&data);
            positions_inside(&text, &e).map_err(TestCaseError::fail)?;
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep_flow = format!("e: {}{}", "[".repeat(5000), "]".repeat(5000));
    assert!(load_str(&deep_flow, "deep.yaml", &FakeCatalog).is_err());
    let mut deep_block = String::new();
    for i in 0..2000 {
        deep_block.push_str(&" ".repeat(i));
        deep_block.push_str("k:\n");
    }
    assert!(load_str(&deep_block, "deep.yaml", &FakeCatalog).is_err());
}

#[test]
fn every_example_survives_line_deletion() {
    // Deleting any single line yields Ok or located errors, never a panic.
    for ex in EXAMPLES {
        let lines: Vec<&str> = ex.split('\n').collect();
        for i in 0..lines.len() {
            let mut l = lines.clone();
            l.remove(i);
            let text = l.join("\n");
            if let Err(e) = load_str(&text, "ex.yaml", &FakeCatalog) {
                positions_inside(&text, &e).unwrap();
            }
        }
    }
}

// The cargo-fuzz target's property, run here over its seed corpus so the target
// keeps compiling against the loader's API and its property holds on the seeds.
#[path = "../fuzz/fuzz_targets/fuzz_catalog.rs"]
mod fuzz_catalog;

#[test]
fn fuzz_property_holds_on_the_seed_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/load");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz corpus") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("seed");
        fuzz_catalog::check(&bytes);
        // Truncations exercise the half-typed files users save mid-edit.
        for cut in [
            bytes.len() / 3,
            bytes.len() / 2,
            bytes.len().saturating_sub(7),
        ] {
            fuzz_catalog::check(&bytes[..cut]);
        }
        n += 1;
    }
    assert!(n > 0, "no seeds in {}", dir.display());
}
