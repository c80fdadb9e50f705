//! The arena a model needs, asked before `init` (`Model::arena_bytes`), is exact for
//! every committed model, the shared TFLM sample models and the fuzz regressions that
//! load; the oracle tests check it again for every model they run (`common::check`),
//! the generated variants included.

mod common;

use common::{exact_arena, root};
use inference::Model;
use std::path::{Path, PathBuf};

fn tflite_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            tflite_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "tflite") {
            out.push(path);
        }
    }
}

#[test]
fn arena_bytes_is_exact_for_every_model() {
    let mut files = Vec::new();
    for dir in ["models", "rust/inference/tests/fuzz-regressions", "../shared/models"] {
        tflite_files(&root().join(dir), &mut files);
    }
    files.sort();
    let mut checked = 0;
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let name = path.strip_prefix(root()).unwrap_or(path).display().to_string();
        // A fuzz regression is a model that must be refused without a panic.
        let Ok(model) = Model::load(&bytes) else {
            assert!(name.contains("fuzz-regressions"), "{name} does not load");
            continue;
        };
        let needed = exact_arena(&name, model);
        println!("{name}: {needed} arena bytes");
        checked += 1;
    }
    // models/ holds 2 sine and 16 operator models; the shared ones at least hello world.
    assert!(checked >= 20, "only {checked} models");
}
