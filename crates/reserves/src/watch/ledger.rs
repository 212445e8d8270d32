//! What the watcher knows of one chain, with no I/O: each reserve address's balance per asset
//! (base units), the Bitcoin coins it follows, each Safe's owners and threshold, and the blocks
//! applied since the anchor with what each changed, so a reorg can undo them.
//!
//! A block comes in as a [`BlockUpdate`] (what a node said of it); [`Ledger::apply`] checks it
//! links to the last block held, turns it into movements and alerts ([`Event`]s), and records
//! the values it replaced. [`Ledger::rollback`] undoes the blocks above a height, newest first.

use super::event::{Event, Flow, Total};
use bigdecimal::num_bigint::BigInt;
use bigdecimal::{BigDecimal, Zero};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// An asset followed on the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// Its label (`ETH`, `USDT`, `BTC`).
    pub label: String,
    /// Decimals of its base unit.
    pub decimals: u32,
    /// The snapshot's total of it over the followed addresses (main unit), when stated.
    pub stated: Option<BigDecimal>,
}

/// A Safe's owners (lower case, sorted) and threshold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SafeState {
    /// Its owners.
    pub owners: Vec<String>,
    /// Its threshold.
    pub threshold: BigInt,
}

impl SafeState {
    /// A state from the node's answers (owners in any case and order).
    pub fn new(owners: &[String], threshold: BigInt) -> SafeState {
        let mut owners: Vec<String> = owners.iter().map(|o| o.to_ascii_lowercase()).collect();
        owners.sort();
        SafeState { owners, threshold }
    }
}

/// A Bitcoin transaction output reference.
pub type Outpoint = (String, u32);

/// A coin the ledger follows: the address it pays and its amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldCoin {
    /// The address.
    pub address: String,
    /// Satoshis.
    pub sat: u64,
}

/// An ERC-20 transfer seen in a block's logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The asset label of the token contract.
    pub asset: String,
    /// Sender.
    pub from: String,
    /// Recipient.
    pub to: String,
    /// Base units.
    pub units: BigInt,
    /// The transaction.
    pub tx: String,
}

/// A Bitcoin transaction of a block, as far as the ledger cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtcTx {
    /// Its id.
    pub txid: String,
    /// The outputs it spends (none for a coinbase).
    pub inputs: Vec<Outpoint>,
    /// Its outputs: the address paid (when standard) and satoshis, by index.
    pub outputs: Vec<(Option<String>, u64)>,
}

/// What a node says of one block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlockUpdate {
    /// Its height.
    pub height: u64,
    /// Its hash.
    pub hash: String,
    /// Its parent's hash.
    pub parent: String,
    /// EVM: the native balance of every followed address at this block.
    pub native: Vec<(String, BigInt)>,
    /// EVM: the token transfers touching followed addresses.
    pub transfers: Vec<Transfer>,
    /// EVM: Safes re-read at this block (those the block's logs touched).
    pub safes: Vec<(String, SafeState)>,
    /// Bitcoin: the block's transactions.
    pub txs: Vec<BtcTx>,
}

/// A value a block replaced, to put back when it is undone.
#[derive(Debug, Clone)]
enum Change {
    Balance {
        key: (String, String),
        before: BigInt,
    },
    CoinAdded(Outpoint),
    CoinRemoved(Outpoint, HeldCoin),
    Safe {
        address: String,
        before: SafeState,
    },
}

/// A block applied, and the values it replaced (in order).
#[derive(Debug, Clone)]
pub struct Applied {
    /// Its height.
    pub height: u64,
    /// Its hash.
    pub hash: String,
    /// Its parent's hash.
    pub parent: String,
    changes: Vec<Change>,
    /// Its movements, as reported.
    pub movements: Vec<Event>,
}

/// The block does not extend the last block held: the chain reorganized (or the node is
/// behind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotLinked {
    /// The last block held: height and hash.
    pub held: (u64, String),
}

/// One chain's followed state.
#[derive(Debug, Clone)]
pub struct Ledger {
    /// The chain ticker.
    pub chain: String,
    /// The asset of the chain's own coin.
    pub native: String,
    /// The assets, by label.
    pub assets: BTreeMap<String, Asset>,
    /// EVM addresses are compared in lower case.
    fold_case: bool,
    anchor: (u64, String),
    balances: BTreeMap<(String, String), BigInt>,
    at_anchor: BTreeMap<(String, String), BigInt>,
    coins: BTreeMap<Outpoint, HeldCoin>,
    safes: BTreeMap<String, SafeState>,
    wallets: BTreeMap<String, String>,
    addresses: BTreeSet<String>,
    recent: VecDeque<Applied>,
    keep: usize,
    /// Assets whose drop alert is raised (raised again only after recovering).
    dropped: BTreeSet<String>,
    /// `--alert-drop`: percent of the stated total.
    pub alert_drop: Option<BigDecimal>,
}

impl Ledger {
    /// A ledger of `chain` at its anchor block, keeping the last `keep` blocks for reorgs.
    pub fn new(
        chain: &str,
        native: &str,
        anchor: (u64, String),
        fold_case: bool,
        keep: usize,
    ) -> Ledger {
        Ledger {
            chain: chain.to_string(),
            native: native.to_string(),
            assets: BTreeMap::new(),
            fold_case,
            anchor,
            balances: BTreeMap::new(),
            at_anchor: BTreeMap::new(),
            coins: BTreeMap::new(),
            safes: BTreeMap::new(),
            wallets: BTreeMap::new(),
            addresses: BTreeSet::new(),
            recent: VecDeque::new(),
            keep: keep.max(1),
            dropped: BTreeSet::new(),
            alert_drop: None,
        }
    }

    fn norm(&self, a: &str) -> String {
        if self.fold_case {
            a.to_ascii_lowercase()
        } else {
            a.to_string()
        }
    }

    /// Adds an asset (a later call with the same label adds to its stated total).
    pub fn add_asset(&mut self, label: &str, decimals: u32, stated: Option<BigDecimal>) {
        let a = self.assets.entry(label.to_string()).or_insert(Asset {
            label: label.to_string(),
            decimals,
            stated: Some(BigDecimal::zero()),
        });
        a.stated = match (a.stated.take(), stated) {
            (Some(t), Some(s)) => Some(t + s),
            _ => None,
        };
    }

    /// Follows `address`'s `asset`, holding `units` at the anchor; `wallet` is its label
    /// (`cold`, `hot`) when the file gives one.
    pub fn hold(&mut self, address: &str, asset: &str, units: BigInt, wallet: Option<&str>) {
        let a = self.norm(address);
        self.addresses.insert(a.clone());
        if let Some(w) = wallet {
            self.wallets.insert(a.clone(), w.to_string());
        }
        self.at_anchor
            .insert((a.clone(), asset.to_string()), units.clone());
        self.balances.insert((a, asset.to_string()), units);
    }

    /// Follows a Bitcoin coin held at the anchor (its address must be held).
    pub fn hold_coin(&mut self, outpoint: Outpoint, address: &str, sat: u64) {
        let address = self.norm(address);
        self.coins.insert(
            (outpoint.0.to_ascii_lowercase(), outpoint.1),
            HeldCoin { address, sat },
        );
    }

    /// Follows a Safe with its owners and threshold at the anchor.
    pub fn hold_safe(&mut self, address: &str, state: SafeState) {
        let a = self.norm(address);
        self.safes.insert(a, state);
    }

    /// The addresses followed.
    pub fn addresses(&self) -> impl Iterator<Item = &String> {
        self.addresses.iter()
    }

    /// True when `address` is followed.
    pub fn follows(&self, address: &str) -> bool {
        self.addresses.contains(&self.norm(address))
    }

    /// The Safes followed.
    pub fn safes(&self) -> impl Iterator<Item = (&String, &SafeState)> {
        self.safes.iter()
    }

    /// The number of coins followed.
    pub fn coin_count(&self) -> usize {
        self.coins.len()
    }

    /// The balance of `address`'s `asset` now (base units).
    pub fn balance(&self, address: &str, asset: &str) -> BigInt {
        self.balances
            .get(&(self.norm(address), asset.to_string()))
            .cloned()
            .unwrap_or_default()
    }

    /// The last block applied (the anchor before any).
    pub fn tip(&self) -> (u64, String) {
        self.recent
            .back()
            .map_or_else(|| self.anchor.clone(), |b| (b.height, b.hash.clone()))
    }

    /// The hash held at `height`, if it is the anchor or one of the blocks kept.
    pub fn hash_at(&self, height: u64) -> Option<&str> {
        if height == self.anchor.0 && self.recent.front().is_none_or(|b| b.height > height) {
            return Some(&self.anchor.1);
        }
        if let Some(b) = self.recent.iter().find(|b| b.height == height) {
            return Some(&b.hash);
        }
        self.recent
            .front()
            .filter(|b| b.height == height + 1)
            .map(|b| b.parent.as_str())
    }

    /// The lowest height a reorg can be undone to (the oldest parent held).
    pub fn oldest(&self) -> u64 {
        self.recent
            .front()
            .map_or(self.anchor.0, |b| b.height.saturating_sub(1))
    }

    fn amount(&self, asset: &str, units: &BigInt) -> String {
        let d = self.assets.get(asset).map_or(0, |a| a.decimals);
        por_attest_verify::balance::plain(&por_attest_verify::balance::from_base_units(
            &BigDecimal::from(units.clone()),
            d,
        ))
    }

    /// Each asset's total: at the anchor (the snapshot's, else the node's), now, and the change.
    pub fn totals(&self) -> Vec<Total> {
        self.assets
            .values()
            .map(|a| {
                let sum = |m: &BTreeMap<(String, String), BigInt>| -> BigInt {
                    m.iter()
                        .filter(|((_, x), _)| *x == a.label)
                        .map(|(_, v)| v)
                        .sum()
                };
                let now = self.main(&a.label, &sum(&self.balances));
                let anchor = a
                    .stated
                    .clone()
                    .unwrap_or_else(|| self.main(&a.label, &sum(&self.at_anchor)));
                Total {
                    asset: a.label.clone(),
                    change: plain(&(&now - &anchor)),
                    at_anchor: plain(&anchor),
                    now: plain(&now),
                }
            })
            .collect()
    }

    fn main(&self, asset: &str, units: &BigInt) -> BigDecimal {
        let d = self.assets.get(asset).map_or(0, |a| a.decimals);
        por_attest_verify::balance::from_base_units(&BigDecimal::from(units.clone()), d)
    }

    /// Applies a block: its movements and alerts, in order. A block that does not extend the
    /// last block held is refused (nothing changes).
    pub fn apply(&mut self, b: &BlockUpdate) -> Result<Vec<Event>, NotLinked> {
        let (h, hash) = self.tip();
        if b.height != h + 1 || !same_hash(&b.parent, &hash) {
            return Err(NotLinked { held: (h, hash) });
        }
        let mut changes = Vec::new();
        let mut events = Vec::new();
        let mut alerts = Vec::new();
        // Native balances (EVM): the difference from what is held is the block's movement.
        for (address, now) in &b.native {
            let native = self.native.clone();
            self.set_balance(
                address,
                &native,
                now.clone(),
                None,
                b,
                &mut changes,
                &mut events,
            );
        }
        for t in &b.transfers {
            for (side, sign) in [(&t.from, -1), (&t.to, 1)] {
                if self.follows(side) {
                    let now = self.balance(side, &t.asset) + BigInt::from(sign) * &t.units;
                    self.set_balance(
                        side,
                        &t.asset,
                        now,
                        Some(&t.tx),
                        b,
                        &mut changes,
                        &mut events,
                    );
                }
            }
        }
        for tx in &b.txs {
            self.apply_btc_tx(tx, b, &mut changes, &mut events);
        }
        for (address, state) in &b.safes {
            let a = self.norm(address);
            let Some(before) = self.safes.get(&a).cloned() else {
                continue;
            };
            if before != *state {
                alerts.push(self.alert(
                    b,
                    "safe-changed",
                    format!(
                        "Safe {a}: owners {} threshold {} at the previous block, now owners {} \
                         threshold {}",
                        before.owners.join(","),
                        before.threshold,
                        state.owners.join(","),
                        state.threshold
                    ),
                    Some(&a),
                    None,
                ));
                changes.push(Change::Safe {
                    address: a.clone(),
                    before,
                });
                self.safes.insert(a, state.clone());
            }
        }
        for e in &events {
            if let Event::Movement {
                flow: Flow::Outflow,
                address,
                asset,
                amount,
                ..
            } = e
            {
                if self
                    .wallets
                    .get(address)
                    .is_some_and(|w| w.eq_ignore_ascii_case("cold"))
                {
                    alerts.push(self.alert(
                        b,
                        "cold-outflow",
                        format!("{amount} {asset} left the cold wallet {address}"),
                        Some(address),
                        Some(asset),
                    ));
                }
            }
        }
        alerts.extend(self.drop_alerts(b));
        self.recent.push_back(Applied {
            height: b.height,
            hash: b.hash.clone(),
            parent: b.parent.clone(),
            changes,
            movements: events.clone(),
        });
        while self.recent.len() > self.keep {
            self.recent.pop_front();
        }
        events.extend(alerts);
        Ok(events)
    }

    fn alert(
        &self,
        b: &BlockUpdate,
        kind: &'static str,
        message: String,
        address: Option<&str>,
        asset: Option<&str>,
    ) -> Event {
        Event::Alert {
            chain: self.chain.clone(),
            height: b.height,
            hash: b.hash.clone(),
            kind,
            message,
            address: address.map(str::to_string),
            asset: asset.map(str::to_string),
        }
    }

    /// `--alert-drop`: an asset whose total now is below the stated one by more than the
    /// percentage (once, until it recovers).
    fn drop_alerts(&mut self, b: &BlockUpdate) -> Vec<Event> {
        let Some(p) = self.alert_drop.clone() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for t in self.totals() {
            let (Ok(anchor), Ok(now)) = (
                t.at_anchor.parse::<BigDecimal>(),
                t.now.parse::<BigDecimal>(),
            ) else {
                continue;
            };
            let floor = &anchor - &anchor * &p / BigDecimal::from(100);
            if now < floor {
                if self.dropped.insert(t.asset.clone()) {
                    out.push(self.alert(
                        b,
                        "drop",
                        format!(
                            "{} total {} is below the snapshot's {} by more than {}% (change {})",
                            t.asset,
                            t.now,
                            t.at_anchor,
                            plain(&p),
                            t.change
                        ),
                        None,
                        Some(&t.asset),
                    ));
                }
            } else {
                self.dropped.remove(&t.asset);
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn set_balance(
        &mut self,
        address: &str,
        asset: &str,
        now: BigInt,
        tx: Option<&str>,
        b: &BlockUpdate,
        changes: &mut Vec<Change>,
        events: &mut Vec<Event>,
    ) {
        let key = (self.norm(address), asset.to_string());
        let before = self.balances.get(&key).cloned().unwrap_or_default();
        if before == now {
            return;
        }
        let delta = &now - &before;
        let flow = if delta < BigInt::zero() {
            Flow::Outflow
        } else {
            Flow::Inflow
        };
        events.push(Event::Movement {
            flow,
            chain: self.chain.clone(),
            height: b.height,
            hash: b.hash.clone(),
            address: key.0.clone(),
            asset: asset.to_string(),
            amount: self.amount(asset, &delta.magnitude().clone().into()),
            balance_before: self.amount(asset, &before),
            balance: self.amount(asset, &now),
            tx: tx.map(str::to_string),
            wallet: self.wallets.get(&key.0).cloned(),
        });
        changes.push(Change::Balance {
            key: key.clone(),
            before,
        });
        self.balances.insert(key, now);
    }

    fn apply_btc_tx(
        &mut self,
        tx: &BtcTx,
        b: &BlockUpdate,
        changes: &mut Vec<Change>,
        events: &mut Vec<Event>,
    ) {
        let native = self.native.clone();
        // Per address: what this transaction takes and gives.
        let mut net: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for (txid, vout) in &tx.inputs {
            let op = (txid.to_ascii_lowercase(), *vout);
            if let Some(c) = self.coins.remove(&op) {
                net.entry(c.address.clone()).or_default().0 += c.sat;
                changes.push(Change::CoinRemoved(op, c));
            }
        }
        for (n, (address, sat)) in tx.outputs.iter().enumerate() {
            let Some(a) = address.as_deref().filter(|a| self.follows(a)) else {
                continue;
            };
            let a = self.norm(a);
            let op = (tx.txid.to_ascii_lowercase(), n as u32);
            self.coins.insert(
                op.clone(),
                HeldCoin {
                    address: a.clone(),
                    sat: *sat,
                },
            );
            changes.push(Change::CoinAdded(op));
            net.entry(a).or_default().1 += *sat;
        }
        for (address, (out, inn)) in net {
            let before = self.balance(&address, &native);
            // The spend and the change back are reported apart: what left, what came.
            if out > 0 {
                let mid = &before - BigInt::from(out);
                self.set_balance(&address, &native, mid, Some(&tx.txid), b, changes, events);
            }
            if inn > 0 {
                let now = self.balance(&address, &native) + BigInt::from(inn);
                self.set_balance(&address, &native, now, Some(&tx.txid), b, changes, events);
            }
        }
    }

    /// Undoes every block above `height`, newest first: the blocks undone.
    pub fn rollback(&mut self, height: u64) -> Vec<Applied> {
        let mut undone = Vec::new();
        while self.recent.back().is_some_and(|b| b.height > height) {
            let b = self.recent.pop_back().expect("checked");
            for c in b.changes.iter().rev() {
                match c {
                    Change::Balance { key, before } => {
                        self.balances.insert(key.clone(), before.clone());
                    }
                    Change::CoinAdded(op) => {
                        self.coins.remove(op);
                    }
                    Change::CoinRemoved(op, coin) => {
                        self.coins.insert(op.clone(), coin.clone());
                    }
                    Change::Safe { address, before } => {
                        self.safes.insert(address.clone(), before.clone());
                    }
                }
            }
            undone.push(b);
        }
        self.dropped.clear();
        undone
    }

    /// Forgets the blocks kept and takes `tip` as the block to follow from, keeping the
    /// balances (a reorg deeper than the blocks kept cannot be undone).
    pub fn rebase(&mut self, tip: (u64, String)) {
        self.recent.clear();
        self.anchor = tip;
    }
}

/// Plain decimal text of a (possibly negative) amount.
fn plain(d: &BigDecimal) -> String {
    por_attest_verify::balance::plain(d)
}

/// Two block hashes are the same (case, `0x`).
pub fn same_hash(a: &str, b: &str) -> bool {
    let n = |s: &str| s.trim().trim_start_matches("0x").to_ascii_lowercase();
    n(a) == n(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0xAAaa000000000000000000000000000000000001";
    const B: &str = "0xbbbb000000000000000000000000000000000002";
    const OUT: &str = "0xcccc000000000000000000000000000000000003";

    fn h(n: u64) -> String {
        format!("0x{n:064x}")
    }

    fn eth() -> Ledger {
        let mut l = Ledger::new("ETH", "ETH", (100, h(100)), true, 8);
        l.add_asset("ETH", 18, Some("3".parse().unwrap()));
        l.add_asset("USDT", 6, Some("10".parse().unwrap()));
        let e18 = BigInt::from(10u64.pow(18));
        l.hold(A, "ETH", e18.clone() * 2, Some("cold"));
        l.hold(B, "ETH", e18, None);
        l.hold(B, "USDT", BigInt::from(10_000_000), None);
        l.hold_safe(B, SafeState::new(&[A.into()], BigInt::from(1)));
        l.alert_drop = Some("10".parse().unwrap());
        l
    }

    fn block(n: u64) -> BlockUpdate {
        BlockUpdate {
            height: n,
            hash: h(n),
            parent: h(n - 1),
            ..BlockUpdate::default()
        }
    }

    fn names(e: &[Event]) -> Vec<&str> {
        e.iter().map(Event::name).collect()
    }

    #[test]
    fn native_balances_give_movements_cold_and_drop_alerts_and_undo() {
        let mut l = eth();
        let e18 = BigInt::from(10u64.pow(18));
        // A (cold) sends 0.5 ETH; B unchanged.
        let mut b = block(101);
        b.native = vec![(A.to_lowercase(), &e18 * 3 / 2), (B.into(), e18.clone())];
        let ev = l.apply(&b).unwrap();
        assert_eq!(names(&ev), ["outflow", "alert", "alert"]);
        match &ev[0] {
            Event::Movement {
                address,
                amount,
                balance_before,
                balance,
                wallet,
                ..
            } => {
                assert_eq!(
                    (address.as_str(), amount.as_str()),
                    (A.to_lowercase().as_str(), "0.5")
                );
                assert_eq!((balance_before.as_str(), balance.as_str()), ("2", "1.5"));
                assert_eq!(wallet.as_deref(), Some("cold"));
            }
            e => panic!("{e:?}"),
        }
        let kinds: Vec<_> = ev
            .iter()
            .filter_map(|e| match e {
                Event::Alert { kind, .. } => Some(*kind),
                _ => None,
            })
            .collect();
        assert_eq!(
            kinds,
            ["cold-outflow", "drop"],
            "3 -> 2.5 ETH is a drop of 16%"
        );
        assert_eq!(
            l.totals()[0],
            Total {
                asset: "ETH".into(),
                at_anchor: "3".into(),
                now: "2.5".into(),
                change: "-0.5".into()
            }
        );
        // The drop is not raised again while it lasts; an inflow is reported.
        let mut b = block(102);
        b.native = vec![(A.into(), &e18 * 3 / 2), (B.into(), &e18 + 1)];
        let ev = l.apply(&b).unwrap();
        assert_eq!(names(&ev), ["inflow"]);
        // A block that does not link: refused, nothing changes.
        let mut stray = block(104);
        stray.native = vec![(A.into(), BigInt::from(0))];
        assert_eq!(l.apply(&stray).unwrap_err().held, (102, h(102)));
        let mut fork = block(103);
        fork.parent = h(999);
        assert!(l.apply(&fork).is_err());
        assert_eq!(l.hash_at(101), Some(h(101).as_str()));
        assert_eq!(l.hash_at(100), Some(h(100).as_str()));
        // Undo both blocks: the anchor's balances are back.
        let undone = l.rollback(100);
        assert_eq!(
            undone.iter().map(|b| b.height).collect::<Vec<_>>(),
            [102, 101]
        );
        assert_eq!(l.balance(A, "ETH"), &e18 * 2);
        assert_eq!(l.balance(B, "ETH"), e18);
        assert_eq!(l.tip(), (100, h(100)));
    }

    #[test]
    fn token_transfers_and_safe_changes() {
        let mut l = eth();
        l.alert_drop = None;
        let mut b = block(101);
        b.transfers = vec![
            Transfer {
                asset: "USDT".into(),
                from: B.into(),
                to: OUT.into(),
                units: BigInt::from(2_500_000),
                tx: "0x01".into(),
            },
            Transfer {
                asset: "USDT".into(),
                from: OUT.into(),
                to: A.to_lowercase(),
                units: BigInt::from(1),
                tx: "0x02".into(),
            },
        ];
        b.safes = vec![(
            B.into(),
            SafeState::new(&[A.into(), OUT.into()], BigInt::from(1)),
        )];
        let ev = l.apply(&b).unwrap();
        assert_eq!(names(&ev), ["outflow", "inflow", "alert"]);
        match &ev[0] {
            Event::Movement {
                amount,
                balance,
                tx,
                ..
            } => {
                assert_eq!(
                    (amount.as_str(), balance.as_str(), tx.as_deref()),
                    ("2.5", "7.5", Some("0x01"))
                )
            }
            e => panic!("{e:?}"),
        }
        assert!(matches!(
            &ev[2],
            Event::Alert {
                kind: "safe-changed",
                ..
            }
        ));
        assert_eq!(l.balance(A, "USDT"), BigInt::from(1));
        l.rollback(100);
        assert_eq!(l.balance(B, "USDT"), BigInt::from(10_000_000));
        assert_eq!(l.safes().next().unwrap().1.owners, [A.to_lowercase()]);
        // The same Safe state again is no alert.
        let mut b = block(101);
        b.safes = vec![(
            B.into(),
            SafeState::new(&[A.to_lowercase()], BigInt::from(1)),
        )];
        assert!(l.apply(&b).unwrap().is_empty());
    }

    #[test]
    fn bitcoin_coins_spent_and_received() {
        let c = "bc1qcold";
        let mut l = Ledger::new("BTC", "BTC", (800, h(800)), false, 8);
        l.add_asset("BTC", 8, Some("1".parse().unwrap()));
        l.hold(c, "BTC", BigInt::from(100_000_000u64), Some("cold"));
        l.hold_coin(("AB".repeat(32), 1), c, 100_000_000);
        let spend = BtcTx {
            txid: "cd".repeat(32),
            inputs: vec![("ab".repeat(32), 1)],
            outputs: vec![
                (Some("bc1qelse".into()), 30_000_000),
                (Some(c.into()), 69_990_000),
            ],
        };
        let unrelated = BtcTx {
            txid: "ef".repeat(32),
            inputs: vec![("ab".repeat(32), 0)],
            outputs: vec![(None, 5)],
        };
        let mut b = block(801);
        b.txs = vec![unrelated, spend];
        let ev = l.apply(&b).unwrap();
        assert_eq!(names(&ev), ["outflow", "inflow", "alert"]);
        match (&ev[0], &ev[1]) {
            (
                Event::Movement {
                    amount,
                    tx,
                    balance,
                    ..
                },
                Event::Movement {
                    amount: back,
                    balance: now,
                    ..
                },
            ) => {
                assert_eq!(
                    (amount.as_str(), tx.as_deref(), balance.as_str()),
                    ("1", Some("cd".repeat(32).as_str()), "0")
                );
                assert_eq!((back.as_str(), now.as_str()), ("0.6999", "0.6999"));
            }
            e => panic!("{e:?}"),
        }
        assert_eq!(l.coin_count(), 1, "the change is followed");
        // The change spent next block.
        let mut b = block(802);
        b.txs = vec![BtcTx {
            txid: "99".repeat(32),
            inputs: vec![("cd".repeat(32), 1)],
            outputs: vec![],
        }];
        assert_eq!(names(&l.apply(&b).unwrap()), ["outflow", "alert"]);
        assert_eq!(l.coin_count(), 0);
        l.rollback(800);
        assert_eq!(l.coin_count(), 1);
        assert_eq!(l.balance(c, "BTC"), BigInt::from(100_000_000u64));
    }

    #[test]
    fn tables_and_json() {
        let l = eth();
        let t = super::super::event::table("ETH", &l.totals());
        assert!(t.contains("ETH USDT"), "{t}");
        let e = Event::NodeError {
            chain: "ETH".into(),
            height: 1,
            hash: h(1),
            endpoint: "http://x".into(),
            error: "down".into(),
            attempt: 2,
            retry_in: 0.5,
        };
        assert_eq!(e.to_json()["event"], "node_error");
        assert_eq!(
            e.to_json().as_object().unwrap().keys().next().unwrap(),
            "event"
        );
    }
}
