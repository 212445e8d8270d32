//! The text layer shared by every exchange-file reader: counted physical lines (UTF-8, a
//! leading BOM dropped, CRLF or LF), CSV field splitting, and the row texts after a header,
//! each with its 1-based line number (a quoted field may span lines; a row's line is the line
//! it starts on).

use crate::error::InputError;
use std::io::BufRead;

/// Physical lines of an input, counted, without their line ending.
pub struct Lines<R> {
    file: String,
    reader: R,
    lineno: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> Lines<R> {
    /// The lines of `reader`, named `file` in errors.
    pub fn new(file: &str, reader: R) -> Lines<R> {
        Lines {
            file: file.to_string(),
            reader,
            lineno: 0,
            buf: Vec::new(),
        }
    }

    /// The next line (BOM dropped on line 1), `None` at the end of the input.
    pub fn next_line(&mut self) -> Result<Option<String>, InputError> {
        self.buf.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| InputError::new(&self.file, format!("cannot read: {e}")))?;
        if n == 0 {
            return Ok(None);
        }
        self.lineno += 1;
        let s = std::str::from_utf8(&self.buf).map_err(|_| {
            InputError::new(&self.file, format!("line {}: not UTF-8 text", self.lineno))
        })?;
        let s = if self.lineno == 1 {
            s.strip_prefix('\u{feff}').unwrap_or(s)
        } else {
            s
        };
        Ok(Some(s.trim_end_matches(['\n', '\r']).to_string()))
    }

    /// The number of the last line read (0 before the first).
    pub fn lineno(&self) -> u64 {
        self.lineno
    }

    /// The file's name, as errors give it.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// An error at `line` of this file.
    pub fn err(&self, line: u64, detail: impl std::fmt::Display) -> InputError {
        InputError::new(&self.file, format!("line {line}: {detail}"))
    }
}

/// A line's number and its fields.
pub type NumberedFields = (u64, Vec<String>);

/// True for a line with no text in any field (empty, spaces, or only commas).
fn is_blank(fields: &[String]) -> bool {
    fields.iter().all(|f| f.is_empty())
}

/// Reads a summary block whose header line was just read: its lines (number and fields) up
/// to the blank line that ends it, then the address header after it. `is_header` tells the
/// address header apart, so a header right after the block's lines (no blank line) still ends
/// it. Errors name the line where the input ended.
pub fn read_summary_block<R: BufRead>(
    lines: &mut Lines<R>,
    is_header: impl Fn(&[String]) -> bool,
) -> Result<(Vec<NumberedFields>, NumberedFields), InputError> {
    let mut block = Vec::new();
    loop {
        let Some(l) = lines.next_line()? else {
            return Err(lines.err(
                lines.lineno(),
                "end of file in the summary block: no blank line and address header follow it",
            ));
        };
        let fields = split_line(&l);
        if is_header(&fields) {
            return Ok((block, (lines.lineno(), fields)));
        }
        if is_blank(&fields) {
            break;
        }
        block.push((lines.lineno(), fields));
    }
    loop {
        match lines.next_line()? {
            None => {
                return Err(lines.err(
                    lines.lineno(),
                    "end of file: no address header after the summary block",
                ))
            }
            Some(l) => {
                let fields = split_line(&l);
                if !is_blank(&fields) {
                    return Ok((block, (lines.lineno(), fields)));
                }
            }
        }
    }
}

/// A row's text as read, before it is split into fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRow {
    /// 0-based index among the address rows.
    pub index: u64,
    /// 1-based line number where the row starts.
    pub line: u64,
    /// The row's text (its physical lines joined by `\n` when a quoted field spans lines).
    pub text: String,
}

/// The address rows after a file's header, one [`RawRow`] at a time; blank lines skipped.
pub struct RawRows<R> {
    lines: Lines<R>,
    next_index: u64,
}

impl<R: BufRead> RawRows<R> {
    /// The rows that follow the lines already read from `lines`.
    pub fn new(lines: Lines<R>) -> RawRows<R> {
        RawRows {
            lines,
            next_index: 0,
        }
    }

    /// The file's name, as errors give it.
    pub fn file(&self) -> &str {
        self.lines.file()
    }

    /// The next row's text, `None` at the end, or an error naming the line.
    pub fn next_raw(&mut self) -> Option<Result<RawRow, InputError>> {
        self.read_raw().transpose()
    }

    fn read_raw(&mut self) -> Result<Option<RawRow>, InputError> {
        let mut text = loop {
            match self.lines.next_line()? {
                None => return Ok(None),
                Some(l) if l.trim().is_empty() => continue,
                Some(l) => break l,
            }
        };
        let line = self.lines.lineno();
        // An odd number of quotes: a quoted field goes on on the next line.
        while text.bytes().filter(|&b| b == b'"').count() % 2 == 1 {
            match self.lines.next_line()? {
                Some(more) => {
                    text.push('\n');
                    text.push_str(&more);
                }
                None => {
                    return Err(self
                        .lines
                        .err(line, "quoted field not closed before the end of the file"))
                }
            }
        }
        let index = self.next_index;
        self.next_index += 1;
        Ok(Some(RawRow { index, line, text }))
    }
}

/// The fields of one CSV record (quotes understood, values trimmed); empty for bad CSV.
pub fn split_line(line: &str) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new()
        .buffer_capacity(line.len() + 64)
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(line.as_bytes());
    r.records()
        .next()
        .and_then(|x| x.ok())
        .map(|rec| rec.iter().map(str::to_string).collect())
        .unwrap_or_default()
}

/// The fields of a line without quotes or carriage returns, as the CSV reader would give them
/// (split at commas, trimmed); `None` when the line needs the CSV reader.
pub fn split_plain(text: &str) -> Option<Vec<&str>> {
    if text.bytes().any(|b| b == b'"' || b == b'\r' || b == b'\n') {
        return None;
    }
    Some(text.split(',').map(str::trim).collect())
}

/// Splits a row's text into its fields: the fast plain split when the text allows it, the
/// CSV reader otherwise; `f` sees the fields either way.
pub fn with_fields<T>(text: &str, f: impl FnOnce(&[&str]) -> T) -> T {
    match split_plain(text) {
        Some(fields) => f(&fields),
        None => {
            let fields = split_line(text);
            let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
            f(&fields)
        }
    }
}

/// The first line of `first_bytes` (BOM dropped), if it is UTF-8: what format sniffing reads.
pub fn first_line(first_bytes: &[u8]) -> Option<&str> {
    let b = first_bytes
        .strip_prefix(b"\xef\xbb\xbf")
        .unwrap_or(first_bytes);
    let end = b.iter().position(|&c| c == b'\n').unwrap_or(b.len());
    std::str::from_utf8(&b[..end])
        .ok()
        .map(|l| l.trim_end_matches('\r'))
}

/// A header cell reduced to compare by name: lower case, no whitespace at all.
pub fn column_key(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_split_is_the_csv_split() {
        for line in [
            "a,b,c",
            " a , b ,c ",
            "a,,",
            ",",
            "x",
            "BTC,BTC,925000,1abc, 1.5 ,I am an OKX address,H+/=,,5221ae,,",
            "a\u{a0},\tb\t,c",
            "ü,ß , é",
        ] {
            let csv = split_line(line);
            let plain: Vec<String> = split_plain(line)
                .unwrap()
                .into_iter()
                .map(str::to_string)
                .collect();
            assert_eq!(plain, csv, "{line:?}");
        }
        assert!(split_plain("a,\"b,c\"").is_none());
        assert!(split_plain("a\rb").is_none());
        assert_eq!(with_fields("a,\"b,c\"", |f| f.len()), 2);
    }

    #[test]
    fn rows_keep_their_line_numbers() {
        let mut rows = RawRows::new(Lines::new(
            "t.csv",
            &b"\xef\xbb\xbfa\r\n\r\nb,\"two\nlines\"\nc\n"[..],
        ));
        let mut got = Vec::new();
        while let Some(r) = rows.next_raw() {
            got.push(r.unwrap());
        }
        let lines: Vec<(u64, u64, &str)> = got
            .iter()
            .map(|r| (r.index, r.line, r.text.as_str()))
            .collect();
        assert_eq!(
            lines,
            [(0, 1, "a"), (1, 3, "b,\"two\nlines\""), (2, 5, "c")]
        );
        let mut open = RawRows::new(Lines::new("t.csv", &b"x\n\"open\n"[..]));
        open.next_raw().unwrap().unwrap();
        let e = open.next_raw().unwrap().unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv: line 2: quoted field not closed before the end of the file"
        );
        assert_eq!(first_line(b"\xef\xbb\xbfcoin,x\r\nrest"), Some("coin,x"));
        assert_eq!(first_line(b"\xff\n"), None);
        assert_eq!(column_key(" Snapshot  Height "), "snapshotheight");
    }
}
