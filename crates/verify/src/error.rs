//! Errors about input that could not be read or understood (exit status 2).

use std::fmt;
use std::path::Path;

/// Input that could not be read or understood: names the file and, where known, the line,
/// the entry and the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The file (or stream) the input came from.
    pub file: String,
    /// What is wrong and where (line, entry, field).
    pub detail: String,
}

impl InputError {
    /// An error about `file`.
    pub fn new(file: impl AsRef<Path>, detail: impl Into<String>) -> InputError {
        InputError {
            file: file.as_ref().display().to_string(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.detail)
    }
}

impl std::error::Error for InputError {}
