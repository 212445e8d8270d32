//! Reader of HTX's address files: the summary block (`coin,snapshot height,balance`, group
//! rows such as `BTC(ALL)`), a blank line, the address header
//! (`coin,address,snapshot height,balance,message,signature`), then one [`HtxRow`] per line,
//! each with its line number in the file.

use crate::error::InputError;
use crate::exchange::amount::Amount;
use crate::exchange::lines::{
    column_key, first_line, read_summary_block, split_line, with_fields, Lines, RawRow, RawRows,
};
use std::io::BufRead;

/// One line of the summary block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryLine {
    /// 1-based line number in the file.
    pub line: u64,
    /// The coin as spelled (`BTC(ALL)`, `USDT-TRC20`, `DOGE(All)`).
    pub coin: String,
    /// The snapshot height, `-` when none.
    pub height: String,
    /// The stated balance; `None` for `-`.
    pub balance: Option<Amount>,
}

impl SummaryLine {
    /// For a group line (`BTC(ALL)`), the group's base coin (`BTC`).
    pub fn group_base(&self) -> Option<&str> {
        let c = self.coin.trim();
        let open = c.find('(')?;
        c.ends_with(')').then(|| c[..open].trim())
    }
}

/// One address row, fields trimmed; `-` (or an empty cell) read as absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtxRow {
    /// 0-based index among the address rows.
    pub index: u64,
    /// 1-based line number in the file.
    pub line: u64,
    /// The coin as spelled (`USDT-TRC20`, `HT-ETH`).
    pub coin: String,
    /// The address.
    pub address: String,
    /// The snapshot height, `None` for `-`.
    pub height: Option<String>,
    /// The balance, `None` for `-`: a row that holds nothing of its own (the signing owner of
    /// the row before it).
    pub balance: Option<Amount>,
    /// The signed text, `None` for `-`.
    pub message: Option<String>,
    /// The signature as published: `None` for `-`, `Some("")` for an empty cell.
    pub signature: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Coin,
    Address,
    Height,
    Balance,
    Message,
    Signature,
}

const SUMMARY_HEADER: [&str; 3] = ["coin", "snapshotheight", "balance"];

/// HTX's address header, as published.
pub const HTX_HEADER: [&str; 6] = [
    "coin",
    "address",
    "snapshot height",
    "balance",
    "message",
    "signature",
];

fn col_of(name: &str) -> Option<Col> {
    Some(match column_key(name).as_str() {
        "coin" => Col::Coin,
        "address" => Col::Address,
        "snapshotheight" => Col::Height,
        "balance" => Col::Balance,
        "message" => Col::Message,
        "signature" => Col::Signature,
        _ => return None,
    })
}

fn is_summary_header(fields: &[String]) -> bool {
    fields.len() == SUMMARY_HEADER.len()
        && fields
            .iter()
            .zip(SUMMARY_HEADER)
            .all(|(f, want)| column_key(f) == want)
}

/// The columns of an address header, `None` when `fields` is not one, or why it is a broken
/// one.
fn address_layout(fields: &[String]) -> Result<Option<Vec<Col>>, String> {
    let cols: Vec<Option<Col>> = fields.iter().map(|f| col_of(f)).collect();
    let has = |c: Col| cols.contains(&Some(c));
    if !(has(Col::Address) && has(Col::Signature) && has(Col::Balance)) {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(cols.len());
    for (f, c) in fields.iter().zip(&cols) {
        let c = c.ok_or_else(|| format!("unknown column `{}` in the address header", f.trim()))?;
        if out.contains(&c) {
            return Err(format!("column `{}` appears twice", f.trim()));
        }
        out.push(c);
    }
    for (c, name) in [(Col::Coin, "coin"), (Col::Message, "message")] {
        if !out.contains(&c) {
            return Err(format!("the address header has no `{name}` column"));
        }
    }
    Ok(Some(out))
}

/// Ok when `first_bytes` (the start of a file) look like an HTX address file (its summary
/// header or its address header on line 1), or why not.
pub fn sniff_htx(first_bytes: &[u8]) -> Result<(), String> {
    let Some(line) = first_line(first_bytes) else {
        return Err("line 1 is not UTF-8 text".into());
    };
    let fields = split_line(line);
    if is_summary_header(&fields) || matches!(address_layout(&fields), Ok(Some(_))) {
        Ok(())
    } else {
        Err(format!(
            "line 1 is neither HTX's summary header `coin,snapshot height,balance` nor its \
             address header `{}`",
            HTX_HEADER.join(",")
        ))
    }
}

/// True when `first_bytes` look like an HTX address file.
pub fn looks_like_htx(first_bytes: &[u8]) -> bool {
    sniff_htx(first_bytes).is_ok()
}

fn absent(v: &str) -> bool {
    v.is_empty() || v == "-"
}

/// Reads an HTX file: the summary block at once, then the rows one by one.
pub struct HtxReader<R> {
    rows: RawRows<R>,
    summary: Vec<SummaryLine>,
    parser: HtxParser,
}

impl<R: BufRead> HtxReader<R> {
    /// Reads the summary block and the address header of `reader` (named `file` in errors).
    pub fn new(file: &str, reader: R) -> Result<HtxReader<R>, InputError> {
        let mut lines = Lines::new(file, reader);
        let Some(first) = lines.next_line()? else {
            return Err(InputError::new(
                file,
                "empty file: no HTX summary block or header",
            ));
        };
        let first_fields = split_line(&first);
        let mut summary = Vec::new();
        let cols = match address_layout(&first_fields).map_err(|d| lines.err(1, d))? {
            Some(cols) => cols,
            None if is_summary_header(&first_fields) => {
                let (block, (at, fields)) =
                    read_summary_block(&mut lines, |f| matches!(address_layout(f), Ok(Some(_))))?;
                for (n, f) in &block {
                    summary.push(summary_line(&lines, *n, f)?);
                }
                address_layout(&fields)
                    .map_err(|d| lines.err(at, d))?
                    .ok_or_else(|| {
                        lines.err(
                            at,
                            format!(
                                "expected HTX's address header `{}`, found `{}`",
                                HTX_HEADER.join(","),
                                fields.join(",").chars().take(80).collect::<String>()
                            ),
                        )
                    })?
            }
            None => {
                return Err(lines.err(
                    1,
                    "not an HTX address file: expected the summary header `coin,snapshot \
                     height,balance` or the address header",
                ))
            }
        };
        let parser = HtxParser {
            file: file.to_string(),
            cols,
        };
        Ok(HtxReader {
            rows: RawRows::new(lines),
            summary,
            parser,
        })
    }

    /// The summary block, in file order (empty when the file has none).
    pub fn summary(&self) -> &[SummaryLine] {
        &self.summary
    }

    /// What turns this file's raw rows into rows (cheap to clone, usable on any thread).
    pub fn parser(&self) -> HtxParser {
        self.parser.clone()
    }

    /// The next row, `None` at the end, or an error naming the line.
    pub fn next_row(&mut self) -> Option<Result<HtxRow, InputError>> {
        match self.rows.next_raw()? {
            Ok(raw) => Some(self.parser.parse(&raw)),
            Err(e) => Some(Err(e)),
        }
    }

    /// The summary block and the raw rows still to come, for the pipeline.
    pub(crate) fn into_parts(self) -> (Vec<SummaryLine>, HtxParser, RawRows<R>) {
        (self.summary, self.parser, self.rows)
    }
}

/// One summary-block line (`coin,snapshot height,amount`), as HTX and OKX write it.
pub(crate) fn summary_line<R>(
    lines: &Lines<R>,
    at: u64,
    fields: &[String],
) -> Result<SummaryLine, InputError>
where
    R: BufRead,
{
    if fields.len() != 3 {
        return Err(lines.err(
            at,
            format!(
                "summary line has {} field{}, expected 3 (coin,snapshot height,balance)",
                fields.len(),
                if fields.len() == 1 { "" } else { "s" }
            ),
        ));
    }
    if fields[0].is_empty() {
        return Err(lines.err(at, "summary line: empty `coin`"));
    }
    let balance = if absent(&fields[2]) {
        None
    } else {
        Some(
            Amount::parse(&fields[2])
                .map_err(|e| lines.err(at, format!("summary line {}: balance {e}", fields[0])))?,
        )
    };
    Ok(SummaryLine {
        line: at,
        coin: fields[0].clone(),
        height: fields[1].clone(),
        balance,
    })
}

/// Splits raw rows into [`HtxRow`]s by a file's header.
#[derive(Debug, Clone)]
pub struct HtxParser {
    file: String,
    cols: Vec<Col>,
}

impl HtxParser {
    /// The row of `raw`, or an error naming the file, line and field.
    pub fn parse(&self, raw: &RawRow) -> Result<HtxRow, InputError> {
        with_fields(&raw.text, |fields| self.row(raw, fields))
    }

    fn err(&self, line: u64, detail: impl std::fmt::Display) -> InputError {
        InputError::new(&self.file, format!("line {line}: {detail}"))
    }

    fn row(&self, raw: &RawRow, fields: &[&str]) -> Result<HtxRow, InputError> {
        let line = raw.line;
        if fields.len() != self.cols.len() {
            return Err(self.err(
                line,
                format!(
                    "{} column{} where the header has {}",
                    fields.len(),
                    if fields.len() == 1 { "" } else { "s" },
                    self.cols.len()
                ),
            ));
        }
        let mut row = HtxRow {
            index: raw.index,
            line,
            coin: String::new(),
            address: String::new(),
            height: None,
            balance: None,
            message: None,
            signature: None,
        };
        let opt = |v: &str| (!absent(v)).then(|| v.to_string());
        for (&v, col) in fields.iter().zip(&self.cols) {
            match col {
                Col::Coin => row.coin = v.to_string(),
                Col::Address => row.address = v.to_string(),
                Col::Height => row.height = opt(v),
                Col::Balance => {
                    if !absent(v) {
                        row.balance = Some(
                            Amount::parse(v).map_err(|e| self.err(line, format!("balance {e}")))?,
                        );
                    }
                }
                Col::Message => row.message = opt(v),
                Col::Signature => row.signature = (v != "-").then(|| v.to_string()),
            }
        }
        for (what, v) in [("coin", &row.coin), ("address", &row.address)] {
            if absent(v) {
                return Err(self.err(line, format!("empty `{what}`")));
            }
        }
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<(Vec<SummaryLine>, Vec<HtxRow>), InputError> {
        let mut r = HtxReader::new("h.csv", text.as_bytes())?;
        let mut rows = Vec::new();
        while let Some(x) = r.next_row() {
            rows.push(x?);
        }
        Ok((r.summary().to_vec(), rows))
    }

    const HEAD: &str = "\u{feff}coin,snapshot height,balance\r\nBTC(ALL),-,1.5\r\nBTC,800,1.5\r\n\r\ncoin,address,snapshot height,balance,message,signature\r\n";

    #[test]
    fn summary_header_and_rows_with_line_numbers() {
        let text = format!(
            "{HEAD}BTC,1abc,800, 1.5 ,huobi,H+/=\r\nUSDT-Avalanche C-Chain,0x1,-,-,King will be back!,\r\n\r\nETH,0x2,1,2,-,-\r\n"
        );
        let (summary, rows) = read(&text).unwrap();
        assert_eq!(summary.len(), 2);
        assert_eq!(summary[0].group_base(), Some("BTC"));
        assert_eq!(summary[1].group_base(), None);
        assert_eq!((summary[0].line, summary[1].line), (2, 3));
        assert!(summary[0].balance.is_some());
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].line, 6);
        assert_eq!(rows[0].signature.as_deref(), Some("H+/="));
        assert_eq!(rows[1].line, 7);
        assert_eq!(rows[1].coin, "USDT-Avalanche C-Chain");
        assert_eq!(rows[1].balance, None);
        assert_eq!(
            rows[1].signature.as_deref(),
            Some(""),
            "empty cell kept apart from `-`"
        );
        assert_eq!(rows[2].line, 9);
        assert_eq!(
            (rows[2].message.as_deref(), rows[2].signature.as_deref()),
            (None, None)
        );
        assert_eq!(rows[2].index, 2);
    }

    #[test]
    fn malformed_inputs_name_file_line_and_field() {
        let e = read("").unwrap_err();
        assert!(e.to_string().starts_with("h.csv: empty file"), "{e}");
        let e = read("coin,snapshot height,balance\nBTC,1,2\n").unwrap_err();
        assert!(e.detail.contains("summary block"), "{e}");
        let tail = "\ncoin,address,snapshot height,balance,message,signature\n";
        let e = read(&format!("coin,snapshot height,balance\nBTC,1\n{tail}")).unwrap_err();
        assert_eq!(
            e.detail,
            "line 2: summary line has 2 fields, expected 3 (coin,snapshot height,balance)"
        );
        let e = read(&format!("coin,snapshot height,balance\nBTC,1,1e5\n{tail}")).unwrap_err();
        assert!(
            e.detail
                .starts_with("line 2: summary line BTC: balance `1e5`"),
            "{e}"
        );
        let e = read("coin,snapshot height,balance\nBTC,1,2\n\nfoo,bar\n").unwrap_err();
        assert!(
            e.detail
                .starts_with("line 4: expected HTX's address header"),
            "{e}"
        );
        let e = read(&format!("{HEAD}BTC,1a,1,2,m\n")).unwrap_err();
        assert_eq!(e.detail, "line 6: 5 columns where the header has 6");
        let e = read(&format!("{HEAD}BTC,1a,1,12.3.4,m,s\n")).unwrap_err();
        assert!(
            e.detail
                .starts_with("line 6: balance `12.3.4` is not a decimal amount"),
            "{e}"
        );
        let e = read(&format!("{HEAD}BTC,-,1,2,m,s\n")).unwrap_err();
        assert_eq!(e.detail, "line 6: empty `address`");
        let e = read("coin,address,balance,message,signature,extra\n").unwrap_err();
        assert!(e.detail.contains("unknown column `extra`"), "{e}");
        let e = read("hello\n").unwrap_err();
        assert!(
            e.detail.starts_with("line 1: not an HTX address file"),
            "{e}"
        );
        // The address header right after the summary lines (no blank line) still reads.
        let (s, r) = read("coin,snapshot height,balance\nBTC,1,2\ncoin,address,snapshot height,balance,message,signature\nBTC,1a,1,2,m,s\n").unwrap();
        assert_eq!((s.len(), r.len(), r[0].line), (1, 1, 4));
    }

    #[test]
    fn detection() {
        assert!(looks_like_htx(
            b"\xef\xbb\xbfcoin,snapshot height,balance\r\nBTC(ALL),-,1\r\n"
        ));
        assert!(looks_like_htx(
            b"coin,address,snapshot height,balance,message,signature\n"
        ));
        assert!(!looks_like_htx(b"coin,snapshot height,amount\nETH,1,2"));
        assert!(!looks_like_htx(b"{\"format\":\"por-attest-snapshot\""));
        assert!(sniff_htx(b"")
            .unwrap_err()
            .contains("neither HTX's summary header"));
    }
}
