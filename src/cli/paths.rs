//! Where the shipped files are: scenarios and fixtures next to the binary's sources, and the
//! default scenario folder when no path is given.

use std::path::PathBuf;

/// A file shipped in the source tree: relative to the working directory if it exists there,
/// else in the tree this binary was built from.
pub fn shipped(path: &str) -> PathBuf {
    let local = PathBuf::from(path);
    if local.exists() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The default scenario folder: `./scenarios` if it exists, else the one shipped in the
/// source tree this binary was built from.
pub fn default_paths(paths: &[PathBuf]) -> Vec<PathBuf> {
    if !paths.is_empty() {
        return paths.to_vec();
    }
    vec![shipped("scenarios")]
}
