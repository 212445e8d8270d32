//! Progress of a verification over the bytes of its input, drawn on stderr.

use crate::error::InputError;
use std::io::Read;
use std::path::Path;

/// A progress bar over the bytes of the input (hidden when not asked or not a terminal).
pub fn progress_bar(show: bool, total_bytes: u64) -> indicatif::ProgressBar {
    styled_bar(
        show && total_bytes >= (4 << 20),
        total_bytes,
        "verifying {bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
    )
}

/// A progress bar on stderr over `total` units drawn with `template` (an indicatif template),
/// hidden when `show` is false.
pub fn styled_bar(show: bool, total: u64, template: &str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(indicatif::ProgressStyle::with_template(template).expect("valid template"));
    bar
}

/// Opens `path` for reading with a progress bar over its bytes (shown when `progress` is set,
/// stderr is a terminal and the file is large).
pub fn open_with_progress(
    path: &Path,
    progress: bool,
) -> Result<(ProgressReader<std::fs::File>, indicatif::ProgressBar), InputError> {
    let file = std::fs::File::open(path)
        .map_err(|e| InputError::new(path, format!("cannot open: {e}")))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = progress_bar(progress, size);
    let reader = ProgressReader {
        inner: file,
        bar: bar.clone(),
    };
    Ok((reader, bar))
}

/// A reader that advances a progress bar.
pub struct ProgressReader<R> {
    /// The reader being counted.
    pub inner: R,
    /// The bar its progress is drawn on.
    pub bar: indicatif::ProgressBar,
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}
