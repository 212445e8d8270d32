//! The ownership message: a one-line template rendered per entry, so that a signature cannot be
//! replayed from another snapshot or moved to another address. An account entry has its own
//! template, naming the account (`{account}`) instead of an address.

use std::fmt;

/// The default template (DESIGN.md).
pub const DEFAULT_TEMPLATE: &str =
    "{entity} proof of reserves {snapshot}: I control {chain} address {address} at {anchor}";

/// The default template of account entries: `{account}` is the account's extended public
/// key, or for a multisig wallet `sha256:` and the hex SHA-256 of its descriptor.
pub const DEFAULT_ACCOUNT_TEMPLATE: &str =
    "{entity} proof of reserves {snapshot}: I control {chain} account {account} at {anchor}";

/// The longest message the Ledger Bitcoin app shows as text (10 chunks of 64 bytes,
/// `MAX_DISPLAYBLE_CHUNK_NUMBER` in app-bitcoin-new's `sign_message.c`); a longer one it shows
/// only as its SHA-256.
pub const MAX_DISPLAYED_MESSAGE: usize = 640;

/// Placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "entity",
    "snapshot",
    "chain",
    "address",
    "anchor",
    "height",
    "block_hash",
];

/// Placeholders an account template may use.
pub const ACCOUNT_PLACEHOLDERS: &[&str] = &[
    "entity",
    "snapshot",
    "chain",
    "account",
    "anchor",
    "height",
    "block_hash",
];

/// Why a template or a rendered message is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

/// The values a template is rendered with.
#[derive(Debug, Clone, Copy)]
pub struct MessageFields<'a> {
    /// The exchange or custodian.
    pub entity: &'a str,
    /// The snapshot id.
    pub snapshot: &'a str,
    /// The chain ticker.
    pub chain: &'a str,
    /// The address; for an account template, what `{account}` stands for.
    pub address: &'a str,
    /// The anchor block's height.
    pub height: u64,
    /// The anchor block's hash.
    pub block_hash: &'a str,
}

impl<'a> MessageFields<'a> {
    /// The fields of `address` on `chain`, anchored at the chain's snapshot block.
    pub fn new(
        entity: &'a str,
        snapshot: &'a str,
        chain: &'a str,
        address: &'a str,
        anchor: &'a crate::snapshot::Anchor,
    ) -> MessageFields<'a> {
        MessageFields {
            entity,
            snapshot,
            chain,
            address,
            height: anchor.height,
            block_hash: &anchor.block_hash,
        }
    }
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(&'static str),
}

/// A checked message template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses and checks a template: printable ASCII on one line, only known placeholders, and
    /// it must bind the signature to the address (`{address}`) and to this snapshot
    /// (`{snapshot}`, `{anchor}` or `{block_hash}`).
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        Template::parse_with(source, "address", PLACEHOLDERS)
    }

    /// Parses and checks an account template: as [`Template::parse`], but it names the account
    /// (`{account}`, rendered from [`MessageFields::address`]) and cannot use `{address}`.
    pub fn parse_account(source: &str) -> Result<Template, TemplateError> {
        Template::parse_with(source, "account", ACCOUNT_PLACEHOLDERS)
    }

    fn parse_with(
        source: &str,
        subject: &'static str,
        known: &'static [&'static str],
    ) -> Result<Template, TemplateError> {
        if let Some(c) = source.chars().find(|c| !(' '..='~').contains(c)) {
            return Err(TemplateError(format!(
                "template must be one line of printable ASCII; found {c:?}"
            )));
        }
        let mut pieces = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| TemplateError("template has `{` without a closing `}`".into()))?;
            let name = &after[..close];
            let field = known.iter().find(|p| **p == name).ok_or_else(|| {
                TemplateError(format!(
                    "unknown placeholder `{{{name}}}` (known: {})",
                    known.join(", ")
                ))
            })?;
            pieces.push(Piece::Field(field));
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err(TemplateError(
                "template has `}` without an opening `{`".into(),
            ));
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        let has = |f: &str| {
            pieces
                .iter()
                .any(|p| matches!(p, Piece::Field(n) if *n == f))
        };
        if !has(subject) {
            return Err(TemplateError(format!(
                "template must contain {{{subject}}}, or a signature could be moved to another {subject}"
            )));
        }
        if !(has("snapshot") || has("anchor") || has("block_hash")) {
            return Err(TemplateError(
                "template must contain {snapshot}, {anchor} or {block_hash}, or a signature could be replayed from another snapshot".into(),
            ));
        }
        Ok(Template {
            source: source.to_string(),
            pieces,
        })
    }

    /// The template text as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Renders the message for one entry.
    pub fn render(&self, f: &MessageFields<'_>) -> String {
        let mut out = String::with_capacity(self.source.len() + 96);
        self.render_into(f, &mut out);
        out
    }

    /// Renders the message for one entry into `out` (cleared first).
    pub fn render_into(&self, f: &MessageFields<'_>, out: &mut String) {
        use std::fmt::Write;
        out.clear();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Field("entity") => out.push_str(f.entity),
                Piece::Field("snapshot") => out.push_str(f.snapshot),
                Piece::Field("chain") => out.push_str(f.chain),
                Piece::Field("address" | "account") => out.push_str(f.address),
                Piece::Field("anchor") => {
                    let _ = write!(out, "{}:{}", f.height, f.block_hash);
                }
                Piece::Field("height") => {
                    let _ = write!(out, "{}", f.height);
                }
                Piece::Field("block_hash") => out.push_str(f.block_hash),
                Piece::Field(other) => unreachable!("placeholder {other} is checked by parse"),
            }
        }
    }

    /// True when `message` is exactly the rendering for these fields (no allocation).
    pub fn matches(&self, f: &MessageFields<'_>, message: &str) -> bool {
        let mut rest = message;
        let num = f.height.to_string();
        for p in &self.pieces {
            let part: &str = match p {
                Piece::Text(t) => t,
                Piece::Field("entity") => f.entity,
                Piece::Field("snapshot") => f.snapshot,
                Piece::Field("chain") => f.chain,
                Piece::Field("address" | "account") => f.address,
                Piece::Field("height") => num.as_str(),
                Piece::Field("block_hash") => f.block_hash,
                Piece::Field("anchor") => {
                    let Some(r) = rest.strip_prefix(num.as_str()) else {
                        return false;
                    };
                    let Some(r) = r.strip_prefix(':') else {
                        return false;
                    };
                    rest = r;
                    f.block_hash
                }
                Piece::Field(_) => return false,
            };
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        rest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> MessageFields<'static> {
        MessageFields {
            entity: "Acme",
            snapshot: "2026-11",
            chain: "BTC",
            address: "bc1qexample",
            height: 870000,
            block_hash: "00000000000000000001",
        }
    }

    #[test]
    fn renders_default_template() {
        let t = Template::parse(DEFAULT_TEMPLATE).unwrap();
        let m = t.render(&fields());
        assert_eq!(
            m,
            "Acme proof of reserves 2026-11: I control BTC address bc1qexample at 870000:00000000000000000001"
        );
        assert!(t.matches(&fields(), &m));
        assert!(!t.matches(&fields(), &format!("{m} ")));
        assert!(!t.matches(&fields(), &m.replace("870000", "870001")));
        let mut other = fields();
        other.address = "bc1qother";
        assert!(!t.matches(&other, &m));
    }

    #[test]
    fn rejects_bad_templates() {
        assert!(Template::parse("I control {address}").is_err());
        assert!(Template::parse("{snapshot} only").is_err());
        assert!(Template::parse("{address} {snapshot} {nope}").is_err());
        assert!(Template::parse("{address} {snapshot\n}").is_err());
        assert!(Template::parse("{address} {snapshot").is_err());
        assert!(Template::parse("{address} snapshot}").is_err());
        assert!(Template::parse("{address} at {block_hash}").is_ok());
        assert!(Template::parse("{account} at {block_hash}").is_err());
    }

    #[test]
    fn account_templates_name_the_account() {
        let t = Template::parse_account(DEFAULT_ACCOUNT_TEMPLATE).unwrap();
        let mut f = fields();
        f.address = "xpub6Cexample";
        let m = t.render(&f);
        assert_eq!(
            m,
            "Acme proof of reserves 2026-11: I control BTC account xpub6Cexample at 870000:00000000000000000001"
        );
        assert!(t.matches(&f, &m));
        f.address = "xpub6Cother";
        assert!(!t.matches(&f, &m));
        let e = Template::parse_account("{entity} {address} {snapshot}").unwrap_err();
        assert!(e.0.contains("unknown placeholder `{address}`"), "{e}");
        let e = Template::parse_account("{entity} {snapshot}").unwrap_err();
        assert!(e.0.contains("{account}"), "{e}");
        assert!(Template::parse_account("{account} only").is_err());
    }
}
