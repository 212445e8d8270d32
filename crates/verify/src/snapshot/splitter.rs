//! The block splitter: cuts a well-formed snapshot file into the raw JSON text of its entries,
//! in large batches, and of its accounts (each account's fields, then its addresses in
//! batches), for the parallel verifier (anything else goes to the streaming reader).

use super::{version_is_known, Anchor, Header, ACCOUNTS_FORMAT_VERSION, FORMAT_TAG};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Read;

/// Why [`EntrySplitter`] gave up. It is not an error message for users: the splitter only
/// takes well-formed files and leaves everything else to [`read_stream`], whose errors name the
/// line, entry and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitBail(pub String);

fn bail<T>(why: impl Into<String>) -> Result<T, SplitBail> {
    Err(SplitBail(why.into()))
}

/// The raw JSON text of consecutive entries, back to back.
#[derive(Debug, Clone, Default)]
pub struct RawBatch {
    /// Index (0-based) of the first entry in the file.
    pub first_index: u64,
    /// The entries' bytes, one after the other.
    pub data: Vec<u8>,
    /// The end offset in `data` of each entry.
    pub ends: Vec<usize>,
}

impl RawBatch {
    /// The number of entries.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The JSON text of entry `i` of the batch.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }
}

/// The header fields as they may appear before `entries` (and `digest`, also after).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHead {
    format: String,
    version: u32,
    entity: String,
    snapshot_id: String,
    created_at: String,
    anchors: BTreeMap<String, Anchor>,
    message_template: String,
    #[serde(default)]
    account_template: Option<String>,
    #[serde(default)]
    digest: Option<String>,
}

const SPLIT_READ: usize = 4 << 20;

enum Scan {
    Complete(usize),
    Incomplete,
    Invalid,
}

/// The length of the JSON string starting at `s[0] == b'"'`.
fn scan_string(s: &[u8]) -> Scan {
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'"' => return Scan::Complete(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    Scan::Incomplete
}

/// The length of the JSON value at the start of `s` (its extent only: the content is checked
/// by the parser it is handed to). `eof`: no bytes follow `s`.
fn scan_value(s: &[u8], eof: bool) -> Scan {
    let Some(&first) = s.first() else {
        return Scan::Incomplete;
    };
    match first {
        b'"' => scan_string(s),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = 0;
            while i < s.len() {
                match s[i] {
                    b'"' => match scan_string(&s[i..]) {
                        Scan::Complete(n) => {
                            i += n;
                            continue;
                        }
                        other => return other,
                    },
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Scan::Complete(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            Scan::Incomplete
        }
        b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
            match s
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
            {
                Some(n) => Scan::Complete(n),
                None if eof => Scan::Complete(s.len()),
                None => Scan::Incomplete,
            }
        }
        _ => Scan::Invalid,
    }
}

/// Splits a snapshot file into its header and batches of raw entry texts, reading large
/// blocks and scanning only the structure, so that entries can be parsed (and re-serialized
/// for the digest) on worker threads. Takes well-formed snapshots in any JSON layout; gives
/// up ([`SplitBail`]) on anything else, for [`read_stream`] to report exactly.
pub struct EntrySplitter<R> {
    reader: R,
    /// Unconsumed input from `pos` on.
    buf: Vec<u8>,
    /// Where reads land (allocated once).
    chunk: Vec<u8>,
    pos: usize,
    eof: bool,
    header: Header,
    stated_digest: Option<String>,
    next_index: u64,
    entries_done: bool,
    accounts: AccountsState,
}

/// Where the splitter is after the entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AccountsState {
    /// Between top-level fields after `entries` (no `accounts` yet, or after them).
    TopLevel { accounts_seen: bool },
    /// Inside `accounts`, before account `next`.
    List { next: u64 },
    /// Inside the addresses of account `account`, `done` of them given.
    Addresses { account: u64, done: u64 },
    /// After the closing brace of the file.
    Closed,
}

/// A piece of the `accounts` of a snapshot, as [`EntrySplitter::next_account_unit`] gives them.
#[derive(Debug, Clone)]
pub enum AccountUnit {
    /// The start of account `index`: the JSON object of its fields before `addresses`.
    Head {
        /// The account's position (0-based) in `accounts`.
        index: u64,
        /// `{…}`: the account's fields but `addresses`, as written.
        json: Vec<u8>,
    },
    /// Consecutive addresses of account `account`; `batch.first_index` is the position of the
    /// first in the account's list.
    Addresses {
        /// The account.
        account: u64,
        /// The addresses' raw JSON.
        batch: RawBatch,
    },
    /// The end of account `account`, which listed `addresses` addresses.
    End {
        /// The account.
        account: u64,
        /// How many addresses it listed.
        addresses: u64,
    },
}

impl<R: Read> EntrySplitter<R> {
    /// Reads the header, up to the first entry.
    pub fn new(reader: R) -> Result<EntrySplitter<R>, SplitBail> {
        let mut s = EntrySplitter {
            reader,
            buf: Vec::with_capacity(SPLIT_READ),
            chunk: Vec::new(),
            pos: 0,
            eof: false,
            header: Header {
                format: String::new(),
                version: 0,
                entity: String::new(),
                snapshot_id: String::new(),
                created_at: String::new(),
                anchors: BTreeMap::new(),
                message_template: String::new(),
                account_template: None,
            },
            stated_digest: None,
            next_index: 0,
            entries_done: false,
            accounts: AccountsState::TopLevel {
                accounts_seen: false,
            },
        };
        if s.peek()? != Some(b'{') {
            return bail("not an object");
        }
        s.pos += 1;
        let mut head = b"{".to_vec();
        loop {
            let key = s.key()?;
            if key == b"\"entries\"" {
                break;
            }
            let value = s.value()?;
            if head.len() > 1 {
                head.push(b',');
            }
            head.extend_from_slice(&key);
            head.push(b':');
            head.extend_from_slice(&value);
            match s.peek()? {
                Some(b',') => s.pos += 1,
                _ => return bail("no `entries` array"),
            }
        }
        head.push(b'}');
        if s.peek()? != Some(b'[') {
            return bail("`entries` is not an array");
        }
        s.pos += 1;
        let raw: RawHead = serde_json::from_slice(&head).or_else(|e| bail(e.to_string()))?;
        let v2 = raw.version >= ACCOUNTS_FORMAT_VERSION;
        if raw.format != FORMAT_TAG
            || !version_is_known(raw.version)
            || v2 != raw.account_template.is_some()
        {
            return bail("format, version or account template");
        }
        s.header = Header {
            format: raw.format,
            version: raw.version,
            entity: raw.entity,
            snapshot_id: raw.snapshot_id,
            created_at: raw.created_at,
            anchors: raw.anchors,
            message_template: raw.message_template,
            account_template: raw.account_template,
        };
        s.stated_digest = raw.digest;
        if s.peek()? == Some(b']') {
            s.pos += 1;
            s.entries_done = true;
        }
        Ok(s)
    }

    /// The header fields.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The next batch of at most `max_entries` entries (or about `max_bytes` of them), or
    /// `None` after the last.
    pub fn next_batch(
        &mut self,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Option<RawBatch>, SplitBail> {
        if self.entries_done {
            return Ok(None);
        }
        let mut batch = RawBatch {
            first_index: self.next_index,
            data: Vec::with_capacity(max_bytes.min(1 << 20) + 4096),
            ends: Vec::with_capacity(max_entries),
        };
        while batch.len() < max_entries && batch.data.len() < max_bytes {
            if self.peek()? != Some(b'{') {
                return bail("an entry is not an object");
            }
            let value = self.value_range()?;
            batch.data.extend_from_slice(&self.buf[value.clone()]);
            batch.ends.push(batch.data.len());
            self.next_index += 1;
            match self.peek()? {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    self.entries_done = true;
                    break;
                }
                _ => return bail("expected `,` or `]` after an entry"),
            }
        }
        Ok(Some(batch))
    }

    /// After the last batch of entries: the next piece of `accounts` (version 2), or `None`
    /// after the last (or when there are none).
    pub fn next_account_unit(
        &mut self,
        max_addresses: usize,
        max_bytes: usize,
    ) -> Result<Option<AccountUnit>, SplitBail> {
        if !self.entries_done {
            return bail("entries not all read");
        }
        loop {
            match self.accounts {
                AccountsState::Closed => return Ok(None),
                AccountsState::TopLevel { accounts_seen } => match self.peek()? {
                    Some(b'}') => {
                        self.pos += 1;
                        self.accounts = AccountsState::Closed;
                    }
                    Some(b',') => {
                        self.pos += 1;
                        let key = self.key()?;
                        if key == b"\"digest\"" && self.stated_digest.is_none() {
                            let v = self.value()?;
                            self.stated_digest =
                                Some(serde_json::from_slice(&v).or_else(|e| bail(e.to_string()))?);
                        } else if key == b"\"accounts\""
                            && !accounts_seen
                            && self.header.version >= ACCOUNTS_FORMAT_VERSION
                        {
                            if self.peek()? != Some(b'[') {
                                return bail("`accounts` is not an array");
                            }
                            self.pos += 1;
                            self.accounts = if self.peek()? == Some(b']') {
                                self.pos += 1;
                                AccountsState::TopLevel {
                                    accounts_seen: true,
                                }
                            } else {
                                AccountsState::List { next: 0 }
                            };
                        } else {
                            return bail("an unexpected field after `entries`");
                        }
                    }
                    _ => return bail("expected `,` or `}` after `entries`"),
                },
                AccountsState::List { next } => {
                    if self.peek()? != Some(b'{') {
                        return bail("an account is not an object");
                    }
                    self.pos += 1;
                    let mut json = b"{".to_vec();
                    loop {
                        let key = self.key()?;
                        if key == b"\"addresses\"" {
                            break;
                        }
                        let value = self.value()?;
                        if json.len() > 1 {
                            json.push(b',');
                        }
                        json.extend_from_slice(&key);
                        json.push(b':');
                        json.extend_from_slice(&value);
                        match self.peek()? {
                            Some(b',') => self.pos += 1,
                            _ => return bail("an account without `addresses` last"),
                        }
                    }
                    json.push(b'}');
                    if self.peek()? != Some(b'[') {
                        return bail("`addresses` is not an array");
                    }
                    self.pos += 1;
                    self.accounts = AccountsState::Addresses {
                        account: next,
                        done: 0,
                    };
                    return Ok(Some(AccountUnit::Head { index: next, json }));
                }
                AccountsState::Addresses { account, done } => {
                    if self.peek()? == Some(b']') {
                        self.pos += 1;
                        if self.peek()? != Some(b'}') {
                            return bail("a field after an account's `addresses`");
                        }
                        self.pos += 1;
                        self.accounts = match self.peek()? {
                            Some(b',') => {
                                self.pos += 1;
                                AccountsState::List { next: account + 1 }
                            }
                            Some(b']') => {
                                self.pos += 1;
                                AccountsState::TopLevel {
                                    accounts_seen: true,
                                }
                            }
                            _ => return bail("expected `,` or `]` after an account"),
                        };
                        return Ok(Some(AccountUnit::End {
                            account,
                            addresses: done,
                        }));
                    }
                    let mut batch = RawBatch {
                        first_index: done,
                        data: Vec::with_capacity(max_bytes.min(1 << 20) + 4096),
                        ends: Vec::with_capacity(max_addresses),
                    };
                    while batch.len() < max_addresses && batch.data.len() < max_bytes {
                        if self.peek()? != Some(b'{') {
                            return bail("an address is not an object");
                        }
                        let value = self.value_range()?;
                        batch.data.extend_from_slice(&self.buf[value.clone()]);
                        batch.ends.push(batch.data.len());
                        match self.peek()? {
                            Some(b',') => self.pos += 1,
                            Some(b']') => break,
                            _ => return bail("expected `,` or `]` after an address"),
                        }
                    }
                    self.accounts = AccountsState::Addresses {
                        account,
                        done: done + batch.len() as u64,
                    };
                    return Ok(Some(AccountUnit::Addresses { account, batch }));
                }
            }
        }
    }

    /// After the last batch (and the last account unit): reads the rest of the file and
    /// returns the stated digest.
    pub fn finish(mut self) -> Result<String, SplitBail> {
        while self.next_account_unit(1, 1)?.is_some() {
            // A caller that skipped the accounts: pass over them (only the digest is wanted).
        }
        if self.peek()?.is_some() {
            return bail("trailing characters");
        }
        self.stated_digest
            .ok_or_else(|| SplitBail("no `digest`".into()))
    }

    /// Reads more input, keeping the bytes from `pos` on; false at the end of the input.
    fn fill(&mut self) -> Result<bool, SplitBail> {
        if self.eof {
            return Ok(false);
        }
        self.buf.drain(..self.pos);
        self.pos = 0;
        if self.chunk.is_empty() {
            self.chunk = vec![0; SPLIT_READ];
        }
        loop {
            match self.reader.read(&mut self.chunk) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&self.chunk[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return bail(format!("read error: {e}")),
            }
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Result<Option<u8>, SplitBail> {
        loop {
            while let Some(&c) = self.buf.get(self.pos) {
                if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                    self.pos += 1;
                } else {
                    return Ok(Some(c));
                }
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// The extent in `buf` of the value at the next non-whitespace byte, consumed.
    fn value_range(&mut self) -> Result<std::ops::Range<usize>, SplitBail> {
        if self.peek()?.is_none() {
            return bail("end of input");
        }
        loop {
            match scan_value(&self.buf[self.pos..], self.eof) {
                Scan::Complete(n) => {
                    let r = self.pos..self.pos + n;
                    self.pos += n;
                    return Ok(r);
                }
                Scan::Invalid => return bail("not a JSON value"),
                Scan::Incomplete => {
                    if !self.fill()? {
                        return bail("end of input inside a value");
                    }
                }
            }
        }
    }

    fn value(&mut self) -> Result<Vec<u8>, SplitBail> {
        let r = self.value_range()?;
        Ok(self.buf[r].to_vec())
    }

    /// A key (raw, with its quotes; no escapes) and its colon.
    fn key(&mut self) -> Result<Vec<u8>, SplitBail> {
        if self.peek()? != Some(b'"') {
            return bail("expected a key");
        }
        let key = self.value()?;
        if key.contains(&b'\\') {
            return bail("escaped key");
        }
        if self.peek()? != Some(b':') {
            return bail("expected `:`");
        }
        self.pos += 1;
        Ok(key)
    }
}
