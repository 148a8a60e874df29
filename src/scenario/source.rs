//! Finding scenario files on disk and keeping their text for diagnostics.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A scenario file's path (as the user will recognise it) and text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the working directory when possible.
    pub path: PathBuf,
    /// The file's text.
    pub text: Arc<String>,
}

impl SourceFile {
    /// The path as shown in diagnostics and reports.
    pub fn display(&self) -> String {
        self.path.display().to_string()
    }
}

/// A path that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct SourceError {
    /// The path given.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// Collect every `*.yaml` / `*.yml` file under the given paths (files are taken as is),
/// sorted and without duplicates.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SourceError> {
    let mut found = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| SourceError {
            path: path.clone(),
            message: format!("cannot read: {e}"),
        })?;
        if meta.is_dir() {
            walk(path, &mut found)?;
        } else {
            found.push(path.clone());
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), SourceError> {
    let entries = std::fs::read_dir(dir).map_err(|e| SourceError {
        path: dir.to_path_buf(),
        message: format!("cannot list: {e}"),
    })?;
    for entry in entries {
        let entry = entry.map_err(|e| SourceError {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(&path, found)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            found.push(path);
        }
    }
    Ok(())
}

/// Read one file.
pub fn read(path: &Path) -> Result<SourceFile, SourceError> {
    let text = std::fs::read_to_string(path).map_err(|e| SourceError {
        path: path.to_path_buf(),
        message: format!("cannot read: {e}"),
    })?;
    Ok(SourceFile {
        path: relative(path),
        text: Arc::new(text),
    })
}

fn relative(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}
