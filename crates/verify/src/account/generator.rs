//! BIP-32 public child derivation, fast: the tweak is the `bitcoin` crate's
//! ([`Xpub::ckd_pub_tweak`]: HMAC-SHA512 of the parent key and index), the point step
//! `parent + tweak·G` is a sum of precomputed multiples of the generator added by
//! libsecp256k1 ([`PublicKey::combine_keys`]) rather than its general multiplication. The
//! BIP-341 key tweak of a P2TR address uses the same table.
//!
//! The table holds `d·256^j·G` for every byte value `d` (1–255) of every byte position `j`
//! (0–31) of a scalar: 8,160 points (about 520 kB), built once per process in a few
//! milliseconds by repeated addition. A tweak `t = Σ t_j·256^j` is then `Σ table[j][t_j]`:
//! at most 32 point additions and one inversion, about half the time of libsecp256k1's
//! `ec_pubkey_tweak_add` (which spends ~128 doublings on it). Everything here is public data,
//! so variable time is fine. The result is the crate's [`Xpub::ckd_pub`], checked by tests.

use bitcoin::bip32::{ChildNumber, Xpub};
use bitcoin::secp256k1::{PublicKey, SecretKey};
use std::sync::LazyLock;

/// `d·256^j·G` at `[j * 255 + d - 1]`.
struct GeneratorTable(Vec<PublicKey>);

static TABLE: LazyLock<GeneratorTable> = LazyLock::new(GeneratorTable::build);

impl GeneratorTable {
    fn build() -> GeneratorTable {
        let secp = crate::schemes::secp();
        let mut points = Vec::with_capacity(32 * 255);
        for j in 0..32 {
            let mut unit = [0u8; 32];
            unit[31 - j] = 1;
            let base = PublicKey::from_secret_key(
                secp,
                &SecretKey::from_slice(&unit).expect("256^j is a valid scalar"),
            );
            let mut multiple = base;
            points.push(multiple);
            for _ in 2..=255 {
                // d·B + B is never the point at infinity for d < 255 < n.
                multiple = multiple
                    .combine(&base)
                    .expect("no multiple of G below n is infinity");
                points.push(multiple);
            }
        }
        GeneratorTable(points)
    }

    /// `point + t·G` for the big-endian scalar `t` (below the group order); `None` when the
    /// sum is the point at infinity.
    fn add_multiple(&self, point: &PublicKey, t: &[u8; 32]) -> Option<PublicKey> {
        let mut terms: [&PublicKey; 33] = [point; 33];
        let mut n = 1;
        for (j, &d) in t.iter().rev().enumerate() {
            if d != 0 {
                terms[n] = &self.0[j * 255 + usize::from(d) - 1];
                n += 1;
            }
        }
        PublicKey::combine_keys(&terms[..n]).ok()
    }
}

/// `point + t·G`, `t` a 32-byte big-endian scalar below the group order; `None` at infinity.
pub fn add_generator_multiple(point: &PublicKey, t: &[u8; 32]) -> Option<PublicKey> {
    TABLE.add_multiple(point, t)
}

/// The public key of the non-hardened child `index` of `parent` (BIP-32 `CKDpub`, key only).
/// `None` for an index BIP-32 declares invalid (probability below 2^-127).
pub fn child_public_key(parent: &Xpub, index: u32) -> Option<PublicKey> {
    let (tweak, _) = parent
        .ckd_pub_tweak(ChildNumber::from_normal_idx(index).ok()?)
        .ok()?;
    add_generator_multiple(&parent.public_key, &tweak.secret_bytes())
}

/// Builds the table now (it is otherwise built on first use), so that timing excludes it.
pub fn warm_up() {
    LazyLock::force(&TABLE);
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::bip32::Xpriv;

    #[test]
    fn children_are_the_crates_children() {
        let secp = crate::schemes::secp();
        let master = Xpriv::new_master(bitcoin::Network::Bitcoin, &[9u8; 32]).unwrap();
        let xpub = Xpub::from_priv(secp, &master);
        for i in (0..300).chain([1 << 20, (1 << 31) - 1]) {
            let want = xpub
                .ckd_pub(secp, ChildNumber::Normal { index: i })
                .unwrap();
            assert_eq!(
                child_public_key(&xpub, i),
                Some(want.public_key),
                "child {i}"
            );
        }
        assert_eq!(child_public_key(&xpub, 1 << 31), None, "hardened index");
    }

    #[test]
    fn every_byte_of_the_scalar_counts() {
        let secp = crate::schemes::secp();
        let p = PublicKey::from_secret_key(secp, &SecretKey::from_slice(&[5; 32]).unwrap());
        for j in 0..32 {
            for d in [1u8, 2, 127, 128, 255] {
                let mut t = [0u8; 32];
                t[j] = d;
                let want = p
                    .add_exp_tweak(secp, &bitcoin::secp256k1::Scalar::from_be_bytes(t).unwrap())
                    .unwrap();
                assert_eq!(add_generator_multiple(&p, &t), Some(want), "byte {j} = {d}");
            }
        }
        // p + (n - k)·G = (k' - k)... the sum at infinity: p = k·G, t = n - k.
        let k = SecretKey::from_slice(&[5; 32]).unwrap();
        let t = k.negate().secret_bytes();
        assert_eq!(add_generator_multiple(&p, &t), None);
    }
}
