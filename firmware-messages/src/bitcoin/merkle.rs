//! Ledger's merkle trees (RFC 6962 shape: the left subtree holds the largest power of two
//! strictly below the size; leaves `sha256(0x00||x)`, nodes `sha256(0x01||l||r)`, empty
//! tree = 32 zero bytes) and merkleized maps.

use super::sha256;
use crate::codec::{write_varint, DecodeError, Reader};

/// A 32-byte hash.
pub type Hash = [u8; 32];

/// Hash of a leaf element: `sha256(0x00 || element)`.
pub fn leaf_hash(element: &[u8]) -> Hash {
    let mut pre = Vec::with_capacity(1 + element.len());
    pre.push(0x00);
    pre.extend_from_slice(element);
    sha256(&pre)
}

/// Hash of an internal node: `sha256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut pre = [0u8; 65];
    pre[0] = 0x01;
    pre[1..33].copy_from_slice(left);
    pre[33..].copy_from_slice(right);
    sha256(&pre)
}

/// Largest power of two strictly smaller than `n` (n >= 2). Computed from the bit length of
/// `n - 1`, so that it holds for every `usize` (doubling a candidate overflowed above 2^63:
/// a lying host's tree size made the device panic or loop forever).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => [0u8; 32],
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// A merkle tree over leaf hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleTree {
    leaves: Vec<Hash>,
    root: Hash,
}

impl MerkleTree {
    /// A tree over already-hashed leaves.
    pub fn from_leaf_hashes(leaves: Vec<Hash>) -> Self {
        let root = mth(&leaves);
        MerkleTree { leaves, root }
    }

    /// A tree over elements (each hashed with [`leaf_hash`]).
    pub fn from_elements<T: AsRef<[u8]>>(elements: &[T]) -> Self {
        Self::from_leaf_hashes(elements.iter().map(|e| leaf_hash(e.as_ref())).collect())
    }

    /// The root (merkle tree hash).
    pub fn root(&self) -> Hash {
        self.root
    }

    /// Number of leaves.
    pub fn size(&self) -> usize {
        self.leaves.len()
    }

    /// Leaf hash at `index`.
    pub fn leaf(&self, index: usize) -> Option<Hash> {
        self.leaves.get(index).copied()
    }

    /// Index of the first leaf with this hash.
    pub fn index_of(&self, leaf: &Hash) -> Option<usize> {
        self.leaves.iter().position(|l| l == leaf)
    }

    /// Proof (audit path) of the leaf at `index`, the sibling nearest the leaf first.
    pub fn proof(&self, index: usize) -> Option<Vec<Hash>> {
        fn go(leaves: &[Hash], index: usize, out: &mut Vec<Hash>) {
            if leaves.len() <= 1 {
                return;
            }
            let k = split(leaves.len());
            if index < k {
                go(&leaves[..k], index, out);
                out.push(mth(&leaves[k..]));
            } else {
                go(&leaves[k..], index - k, out);
                out.push(mth(&leaves[..k]));
            }
        }
        if index >= self.leaves.len() {
            return None;
        }
        let mut out = Vec::new();
        go(&self.leaves, index, &mut out);
        Some(out)
    }
}

/// Number of hashes in the proof of leaf `index` in a tree of `size` leaves.
pub fn proof_len(size: usize, index: usize) -> Option<usize> {
    if index >= size {
        return None;
    }
    let (mut n, mut i, mut len) = (size, index, 0);
    while n > 1 {
        let k = split(n);
        if i < k {
            n = k;
        } else {
            n -= k;
            i -= k;
        }
        len += 1;
    }
    Some(len)
}

/// Root implied by a leaf hash and its proof, or `None` if the proof has the wrong length
/// for (`size`, `index`).
pub fn root_from_proof(size: usize, index: usize, leaf: &Hash, proof: &[Hash]) -> Option<Hash> {
    if proof_len(size, index)? != proof.len() {
        return None;
    }
    fn go(n: usize, i: usize, leaf: &Hash, proof: &[Hash]) -> Hash {
        if n == 1 {
            return *leaf;
        }
        let k = split(n);
        let (sibling, rest) = proof.split_last().expect("length checked");
        if i < k {
            node_hash(&go(k, i, leaf, rest), sibling)
        } else {
            node_hash(sibling, &go(n - k, i - k, leaf, rest))
        }
    }
    Some(go(size, index, leaf, proof))
}

/// Commitment to a merkleized map: size, root of the sorted keys, root of the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapCommitment {
    /// Number of pairs.
    pub size: u64,
    /// Root of the keys tree.
    pub keys_root: Hash,
    /// Root of the values tree.
    pub values_root: Hash,
}

impl MapCommitment {
    /// Wire form: varint size, keys root, values root.
    pub fn write(&self, out: &mut Vec<u8>) {
        write_varint(out, self.size);
        out.extend_from_slice(&self.keys_root);
        out.extend_from_slice(&self.values_root);
    }

    /// Reads the wire form.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(MapCommitment {
            size: r.varint("map size")?,
            keys_root: r.array("keys root")?,
            values_root: r.array("values root")?,
        })
    }

    /// The wire form alone (an element of SIGN_PSBT's lists of input / output maps).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(73);
        self.write(&mut out);
        out
    }

    /// Parses exactly one wire form.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let c = Self::read(&mut r)?;
        r.finish()?;
        Ok(c)
    }
}

/// A map with its keys sorted, as committed to by [`MapCommitment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleizedMap {
    /// Sorted keys.
    pub keys: Vec<Vec<u8>>,
    /// Values, in key order.
    pub values: Vec<Vec<u8>>,
}

impl MerkleizedMap {
    /// Sorts the pairs by key (later duplicates are dropped).
    pub fn new(mut pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Self {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.dedup_by(|a, b| a.0 == b.0);
        let (keys, values) = pairs.into_iter().unzip();
        MerkleizedMap { keys, values }
    }

    /// The commitment.
    pub fn commitment(&self) -> MapCommitment {
        MapCommitment {
            size: self.keys.len() as u64,
            keys_root: MerkleTree::from_elements(&self.keys).root(),
            values_root: MerkleTree::from_elements(&self.values).root(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes_above_2_pow_63_split_without_overflow() {
        // Found by the `merkle` fuzz target (fuzz/regressions/merkle/): a host stating a tree
        // of more than 2^63 leaves made `split` overflow (a panic, or an endless loop in a
        // release build) when the device computed the proof length it expects.
        assert_eq!(split(2), 1);
        assert_eq!(split(3), 2);
        assert_eq!(split(4), 2);
        assert_eq!(split(5), 4);
        assert_eq!(split((1 << 63) + 1), 1 << 63);
        assert_eq!(split(usize::MAX), 1 << 63);
        assert_eq!(proof_len(usize::MAX, 0), Some(64));
        assert_eq!(proof_len(usize::MAX, usize::MAX - 1), Some(63));
        assert_eq!(root_from_proof(usize::MAX, 0, &[0; 32], &[]), None);
        assert!(root_from_proof(usize::MAX, 0, &[0; 32], &[[1; 32]; 64]).is_some());
    }

    #[test]
    fn shapes() {
        assert_eq!(MerkleTree::from_elements::<&[u8]>(&[]).root(), [0u8; 32]);
        let one = MerkleTree::from_elements(&[b"a"]);
        assert_eq!(one.root(), leaf_hash(b"a"));
        // n = 3: left subtree has 2 leaves, right has 1.
        let l: Vec<Hash> = [b"a", b"b", b"c"].iter().map(|e| leaf_hash(*e)).collect();
        let t = MerkleTree::from_leaf_hashes(l.clone());
        assert_eq!(t.root(), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
        assert_eq!(t.proof(0).unwrap(), vec![l[1], l[2]]);
        assert_eq!(t.proof(2).unwrap(), vec![node_hash(&l[0], &l[1])]);
    }

    #[test]
    fn golden_keys_root() {
        // From a recorded Speculos session of LedgerHQ's client (default tr(@0/**) policy):
        // the one-key list root equals the leaf hash of the key string.
        let key = "[f5acc2fd/86'/1'/0']tpubDDKYE6BREvDsSWMazgHoyQWiJwYaDDYPbCFjYxN3HFXJP5fokeiK4hwK5tTLBNEDBwrDXn8cQ4v9b2xdW62Xr5yxoQdMu1v6c7UDXYVH27U";
        assert_eq!(
            hex::encode(MerkleTree::from_elements(&[key]).root()),
            "feacb8b161672bffec7b35f4035eceb1d9c918e2507b51d1716324b968856803"
        );
    }

    proptest! {
        #[test]
        fn proofs_verify(n in 1usize..70, seed: u8) {
            let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&[seed, i as u8])).collect();
            let t = MerkleTree::from_leaf_hashes(leaves.clone());
            for (i, leaf) in leaves.iter().enumerate() {
                let p = t.proof(i).unwrap();
                prop_assert_eq!(p.len(), proof_len(n, i).unwrap());
                prop_assert_eq!(root_from_proof(n, i, leaf, &p), Some(t.root()));
                let wrong = leaf_hash(b"x");
                prop_assert_ne!(root_from_proof(n, i, &wrong, &p), Some(t.root()));
            }
        }
    }
}
