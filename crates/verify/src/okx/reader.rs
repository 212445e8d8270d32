//! Streaming reader of OKX address files: the summary block, the address header (any of
//! the 7-, 9-, 11- and 12-column generations, matched by column name), then one [`Row`] per
//! CSV record with its line number in the file.

use crate::error::InputError;
use crate::exchange::lines::{
    column_key, first_line, read_summary_block, split_line, with_fields, Lines, RawRows,
};
use std::io::BufRead;

pub use crate::exchange::lines::RawRow;

/// One address row, fields trimmed; `null` is read as empty in the optional columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    /// 0-based index among the address rows.
    pub index: u64,
    /// 1-based line number in the file where the row starts.
    pub line: u64,
    /// The coin as OKX writes it (`BTC`, `USDT-ERC20`, ...).
    pub coin: String,
    /// The `Type` column of staking files (`Non Staking`, `Native ETH Staking`, …).
    pub kind: String,
    /// The network column (empty in older layouts).
    pub network: String,
    /// The address.
    pub address: String,
    /// The `amount` column as written (empty when the layout has none).
    pub amount: String,
    /// The `Snapshot Height` column as written (empty when the layout has none).
    pub height: String,
    /// The layout states amounts in the coin's smallest unit (satoshi, wei): OKX's first,
    /// 7-column generation, whose rows carry no network or height.
    pub base_units: bool,
    /// The signed message.
    pub message: String,
    /// The first signature.
    pub sig1: String,
    /// The second signature (multisig and contract wallets; may be empty).
    pub sig2: String,
    /// Redeem / witness script (UTXO multisig) or public key (ed25519 and other chains).
    pub script: String,
    /// The first owner (EOA) of a contract wallet, or an owner-key account's key (APTOS).
    pub eoa1: String,
    /// The second owner of a contract wallet.
    pub eoa2: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Coin,
    Kind,
    Network,
    Height,
    Address,
    Amount,
    Message,
    Sig1,
    Sig2,
    Script,
    Eoa1,
    Eoa2,
}

fn col_of(name: &str) -> Option<Col> {
    Some(match column_key(name).as_str() {
        "coin" | "digitalasset" => Col::Coin,
        "type" => Col::Kind,
        "network" => Col::Network,
        "snapshotheight" => Col::Height,
        "address" => Col::Address,
        "amount" => Col::Amount,
        "message" => Col::Message,
        "signature1" | "signedmessage" => Col::Sig1,
        "signature2" | "signedmessage2" => Col::Sig2,
        "redeemscript/publickey" | "publickey" => Col::Script,
        "eoa1" | "owner1" => Col::Eoa1,
        "eoa2" | "owner2" => Col::Eoa2,
        _ => return None,
    })
}

/// The columns of a file's address header.
#[derive(Debug, Clone)]
pub struct Layout {
    cols: Vec<Col>,
    /// Rows may leave out trailing columns after this many (OKX omits empty owner columns).
    min_fields: usize,
}

impl Layout {
    /// True for the 7-column generation (`coin,address,amount,…`, no network, no height),
    /// whose amounts are in the coin's smallest unit: its rows add up to its summary block
    /// (in whole coins) only so.
    pub fn base_units(&self) -> bool {
        self.cols.contains(&Col::Amount)
            && !self.cols.contains(&Col::Network)
            && !self.cols.contains(&Col::Height)
    }
}

impl Layout {
    /// The layout of an address header, or `None` when `fields` is not one.
    fn parse(fields: &[String]) -> Result<Option<Layout>, String> {
        let cols: Vec<Option<Col>> = fields.iter().map(|f| col_of(f)).collect();
        let has = |c: Col| cols.contains(&Some(c));
        if !(has(Col::Address) && has(Col::Sig1)) {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(cols.len());
        for (f, c) in fields.iter().zip(&cols) {
            let c =
                c.ok_or_else(|| format!("unknown column `{}` in the address header", f.trim()))?;
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
        let min_fields = [
            Col::Coin,
            Col::Address,
            Col::Message,
            Col::Sig1,
            Col::Script,
        ]
        .iter()
        .filter_map(|c| out.iter().position(|x| x == c))
        .max()
        .map_or(out.len(), |i| i + 1);
        Ok(Some(Layout {
            cols: out,
            min_fields,
        }))
    }

    /// The number of columns.
    pub fn width(&self) -> usize {
        self.cols.len()
    }
}

/// True when `first_bytes` (the start of a file) look like an OKX address file: a summary
/// block header (`coin,…,amount`) or an address header.
pub fn looks_like_okx(first_bytes: &[u8]) -> bool {
    let Some(line) = first_line(first_bytes) else {
        return false;
    };
    let fields = split_line(line);
    is_summary_header(&fields) || matches!(Layout::parse(&fields), Ok(Some(_)))
}

fn is_summary_header(fields: &[String]) -> bool {
    fields
        .first()
        .is_some_and(|f| f.eq_ignore_ascii_case("coin"))
        && fields.iter().any(|f| f.eq_ignore_ascii_case("amount"))
        && !fields.iter().any(|f| f.eq_ignore_ascii_case("address"))
}

/// Reads the rows of an OKX file one by one, with their file line numbers. A quoted field may
/// span lines; a row's line is the line it starts on.
pub struct OkxReader<R> {
    rows: RawRows<R>,
    layout: Layout,
    summary: Vec<crate::htx::SummaryLine>,
}

impl<R: BufRead> OkxReader<R> {
    /// Reads the summary block and the address header of `reader` (named `file` in errors).
    pub fn new(file: &str, reader: R) -> Result<OkxReader<R>, InputError> {
        let mut lines = Lines::new(file, reader);
        let Some(first) = lines.next_line()? else {
            return Err(InputError::new(file, "empty file: no OKX address header"));
        };
        let first_fields = split_line(&first);
        let mut summary = Vec::new();
        let layout = match Layout::parse(&first_fields).map_err(|d| lines.err(1, d))? {
            Some(l) => l,
            None if is_summary_header(&first_fields) => {
                // The summary block runs to the first blank line; the header follows it.
                let (block, (at, header)) =
                    read_summary_block(&mut lines, |f| matches!(Layout::parse(f), Ok(Some(_))))?;
                for (n, f) in &block {
                    summary.push(crate::htx::summary_line(&lines, *n, f)?);
                }
                Layout::parse(&header)
                    .map_err(|d| lines.err(at, d))?
                    .ok_or_else(|| {
                        lines.err(
                            at,
                            format!(
                                "expected the address header (coin,…,address,…,signature1,…), \
                                 found `{}`",
                                header.join(",").chars().take(80).collect::<String>()
                            ),
                        )
                    })?
            }
            None => {
                return Err(lines.err(
                    1,
                    "not an OKX address file: expected a summary block (`coin,…,amount`) or the \
                     address header",
                ))
            }
        };
        Ok(OkxReader {
            rows: RawRows::new(lines),
            layout,
            summary,
        })
    }

    /// The summary block (coin, snapshot height, amount in whole coins), in file order.
    pub fn summary(&self) -> &[crate::htx::SummaryLine] {
        &self.summary
    }

    /// The header's layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The next row, `None` at the end, or an error naming the line.
    pub fn next_row(&mut self) -> Option<Result<Row, InputError>> {
        match self.next_raw()? {
            Ok(raw) => Some(self.row_parser().parse(&raw)),
            Err(e) => Some(Err(e)),
        }
    }

    /// The next row's text, not yet split into fields (see [`RowParser`]): lets a caller
    /// split and check rows on other threads. `None` at the end.
    pub fn next_raw(&mut self) -> Option<Result<RawRow, InputError>> {
        self.rows.next_raw()
    }

    /// What turns this file's raw rows into rows.
    pub fn row_parser(&self) -> RowParser {
        RowParser {
            file: self.rows.file().to_string(),
            layout: self.layout.clone(),
        }
    }

    /// The raw rows still to come, for the pipeline.
    pub(crate) fn into_rows(self) -> RawRows<R> {
        self.rows
    }
}

/// Splits raw rows into [`Row`]s by a file's layout; cheap to clone, usable on any thread.
#[derive(Debug, Clone)]
pub struct RowParser {
    file: String,
    layout: Layout,
}

impl RowParser {
    /// The row of `raw`, or an error naming the file and line.
    pub fn parse(&self, raw: &RawRow) -> Result<Row, InputError> {
        with_fields(&raw.text, |fields| self.row(raw.index, raw.line, fields))
    }

    fn err(&self, line: u64, detail: impl std::fmt::Display) -> InputError {
        InputError::new(&self.file, format!("line {line}: {detail}"))
    }

    fn row(&self, index: u64, line: u64, fields: &[&str]) -> Result<Row, InputError> {
        let n = fields.len();
        if n < self.layout.min_fields || n > self.layout.width() {
            return Err(self.err(
                line,
                format!(
                    "{n} column{} where the header has {} (at least {} needed)",
                    if n == 1 { "" } else { "s" },
                    self.layout.width(),
                    self.layout.min_fields
                ),
            ));
        }
        let mut row = Row {
            index,
            line,
            base_units: self.layout.base_units(),
            ..Row::default()
        };
        let optional = |v: &str| {
            if v.eq_ignore_ascii_case("null") {
                String::new()
            } else {
                v.to_string()
            }
        };
        for (&value, col) in fields.iter().zip(&self.layout.cols) {
            match col {
                Col::Coin => row.coin = value.to_string(),
                Col::Kind => row.kind = value.to_string(),
                Col::Network => row.network = optional(value),
                Col::Address => row.address = value.to_string(),
                Col::Message => row.message = value.to_string(),
                Col::Sig1 => row.sig1 = optional(value),
                Col::Sig2 => row.sig2 = optional(value),
                Col::Script => row.script = optional(value),
                Col::Eoa1 => row.eoa1 = optional(value),
                Col::Eoa2 => row.eoa2 = optional(value),
                Col::Height => row.height = value.to_string(),
                Col::Amount => row.amount = value.to_string(),
            }
        }
        for (what, v) in [("coin", &row.coin), ("address", &row.address)] {
            if v.is_empty() {
                return Err(self.err(line, format!("empty `{what}`")));
            }
        }
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Result<Vec<Row>, InputError> {
        let mut r = OkxReader::new("t.csv", text.as_bytes())?;
        let mut out = Vec::new();
        while let Some(x) = r.next_row() {
            out.push(x?);
        }
        Ok(out)
    }

    #[test]
    fn summary_block_crlf_quotes_and_spaces() {
        let text = "coin,snapshot height,amount\r\nETH,1, 5\r\n\r\ncoin , address,message, signature1,signature2,redeem script/ public key, eoa1, eoa2\r\n\
                    ETH, 0xab ,\"I am, quoted\",0x01,null,,\r\n\r\nBTC,bc1q,m,sig,,5221\r\n";
        let r = rows(text).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].line, 5);
        assert_eq!(r[0].address, "0xab");
        assert_eq!(r[0].message, "I am, quoted");
        assert_eq!(r[0].sig2, "");
        assert_eq!(r[1].line, 7);
        assert_eq!(r[1].index, 1);
        assert_eq!(r[1].script, "5221");
    }

    #[test]
    fn auditor_layout_without_summary() {
        let text = "digitalAsset,network,address,signedMessage,signedMessage2,message,publicKey,owner1,owner2\nUSDT,ETH,0x1,0x2,null,OKC,,,";
        let r = rows(text).unwrap();
        assert_eq!(r[0].coin, "USDT");
        assert_eq!(r[0].network, "ETH");
        assert_eq!(r[0].sig1, "0x2");
        assert_eq!(r[0].message, "OKC");
        assert_eq!(r[0].line, 2);
    }

    #[test]
    fn malformed_inputs_name_file_and_line() {
        let e = rows("").unwrap_err();
        assert!(e.to_string().starts_with("t.csv: empty file"), "{e}");
        let e = rows("coin,snapshot height,amount\nETH,1,2\n").unwrap_err();
        assert!(e.detail.contains("summary block"), "{e}");
        let e = rows("coin,snapshot height,amount\nETH,1,2\n\nfoo,bar\n").unwrap_err();
        assert!(
            e.detail.starts_with("line 4: expected the address header"),
            "{e}"
        );
        let e = rows("coin,address,message,signature1\nETH,0x1\n").unwrap_err();
        assert!(e.detail.starts_with("line 2: 2 columns"), "{e}");
        let e = rows("coin,address,message,signature1\nETH,0x1,m,s,extra\n").unwrap_err();
        assert!(e.detail.starts_with("line 2: 5 columns"), "{e}");
        let e = rows("coin,address,message,signature1,bogus\n").unwrap_err();
        assert!(e.detail.contains("unknown column `bogus`"), "{e}");
        let e = rows("hello world\n").unwrap_err();
        assert!(
            e.detail.starts_with("line 1: not an OKX address file"),
            "{e}"
        );
        let e = rows("coin,address,message,signature1\nETH,0x1,\"unterminated\n").unwrap_err();
        assert!(
            e.detail.starts_with("line 2: quoted field not closed"),
            "{e}"
        );
        let mut r = OkxReader::new(
            "t.csv",
            &b"coin,address,message,signature1\nETH,0x1,m\xff,s\n"[..],
        )
        .unwrap();
        let e = r.next_row().unwrap().unwrap_err();
        assert_eq!(e.to_string(), "t.csv: line 2: not UTF-8 text");
        let r = rows("coin,address,message,signature1\nETH,0x1,\"two\nlines\",s\nETH,0x2,m,s\n")
            .unwrap();
        assert_eq!((r[0].line, r[0].message.as_str()), (2, "two\nlines"));
        assert_eq!(r[1].line, 4);
    }

    #[test]
    fn detection() {
        assert!(looks_like_okx(b"coin,snapshot height,amount\nETH,1,2"));
        assert!(looks_like_okx(
            b"digitalAsset,network,address,signedMessage,signedMessage2,message,publicKey,owner1,owner2\n"
        ));
        assert!(!looks_like_okx(b"{\"format\":\"por-attest-snapshot\""));
        assert!(!looks_like_okx(b""));
    }
}
