//! The top-level modules of src/ import each other in one direction only: the
//! `scripts/module-cycles.sh` count stays at zero, so a new two-way import is seen in review.

use std::process::Command;

#[test]
fn no_top_level_module_imports_one_that_imports_it_back() {
    let out = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/module-cycles.sh"
        ))
        .output()
        .expect("bash runs the script");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.trim_end()
            .ends_with("cycles: 0 (0 two-way pairs, 0 longer groups)"),
        "import cycles between top-level modules:\n{text}"
    );
}

/// The files of cli/ too: the clap definitions live in `args`, the shipped-file helpers in
/// `paths`, so no command file imports `mod` while `mod` dispatches to it (5 cycles before).
#[test]
fn no_cli_file_imports_one_that_imports_it_back() {
    let out = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/module-cycles.sh"
        ))
        .args(["--within", "cli"])
        .output()
        .expect("bash runs the script");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.trim_end()
            .ends_with("cycles: 0 (0 two-way pairs, 0 longer groups)"),
        "import cycles between cli/ files:\n{text}"
    );
}
