//! What the benches share: reading numbers from the environment, size labels.

/// The number in environment variable `name`, if set and a number.
pub fn env_num(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// `10k`, `1m`, or the number itself.
pub fn label(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}m", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// A verified claim that `address` holds `balance` ETH at `anchor` (entry `i`).
#[allow(dead_code)] // the node benches' only
pub fn eth_claim(i: u64, address: String, balance: &str, anchor: u64) -> por_attest::claim::Claim {
    por_attest::claim::Claim {
        entry: Some(i),
        line: None,
        account: None,
        path: None,
        chain: "ETH".into(),
        node_chain: "ETH".into(),
        asset: "ETH".into(),
        token: None,
        address,
        balance: Some(balance.parse().unwrap()),
        rounding: None,
        height: Some(anchor),
        status: "verified",
        owners: Vec::new(),
        coins: Vec::new(),
    }
}
