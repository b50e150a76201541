//! Holds the layer rules of docs/ARCHITECTURE.md: each file under a layer's
//! folder may `use crate::<layer>` only for the layers its layer may use.

use std::collections::BTreeMap;
use std::path::Path;

/// Layer → the layers it may use.
fn allowed() -> BTreeMap<&'static str, &'static [&'static str]> {
    BTreeMap::from([
        ("sip", &[][..]),
        ("media", &[][..]),
        ("store", &[][..]),
        ("events", &[][..]),
        ("recording", &["media"][..]),
        ("desk", &["store", "text"][..]),
        ("api", &["desk", "events", "store", "text"][..]),
        (
            "telephony",
            &[
                "sip",
                "media",
                "recording",
                "desk",
                "events",
                "store",
                "text",
            ][..],
        ),
        (
            "app",
            &[
                "api",
                "telephony",
                "desk",
                "store",
                "sip",
                "media",
                "recording",
                "events",
                "text",
            ][..],
        ),
    ])
}

const LAYERS: [&str; 9] = [
    "sip",
    "media",
    "store",
    "events",
    "recording",
    "desk",
    "api",
    "telephony",
    "app",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `crate::X` layers a source text refers to.
fn used_layers(text: &str) -> Vec<&'static str> {
    LAYERS
        .into_iter()
        .filter(|layer| {
            text.contains(&format!("crate::{layer}::"))
                || text.contains(&format!("crate::{layer};"))
                || text.contains(&format!("crate::{{{layer}"))
                || text.contains(&format!("crate::{layer}}}"))
        })
        .collect()
}

#[test]
fn every_layer_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rules = allowed();
    let mut violations = Vec::new();
    for (layer, may_use) in &rules {
        let mut files = Vec::new();
        rust_files(&src.join(layer), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read");
            for used in used_layers(&text) {
                if used != *layer && !may_use.contains(&used) {
                    violations.push(format!("{} uses crate::{used}", file.display()));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layer violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn nothing_above_sip_imports_rsipstack() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let offenders: Vec<_> = files
        .iter()
        .filter(|file| !file.starts_with(src.join("sip")))
        .filter(|file| {
            std::fs::read_to_string(file)
                .expect("read")
                .contains("rsipstack")
        })
        .collect();
    assert!(offenders.is_empty(), "{offenders:?}");
}

#[test]
fn the_checker_sees_a_violation() {
    assert_eq!(
        used_layers("use crate::store::Store;\nuse crate::sip::{A};"),
        ["sip", "store"]
    );
}
