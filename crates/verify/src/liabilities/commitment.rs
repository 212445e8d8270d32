//! What Gate's proofs commit to, recomputed: the asset-list commitment (every asset's totals
//! and price), a user's asset commitment and account leaf, the empty account tree, and a batch's
//! commitment (its one public input).
//!
//! - an asset list of `slots` assets: each asset as one element `equity·2^128 + debt·2^64 +
//!   price`, empty slots zero, hashed in slot order;
//! - a user's assets: the values `equity_0, debt_0, equity_1, debt_1, …` over all slots, three
//!   per element (`v0·2^128 + v1·2^64 + v2`), `(2·slots + 2) / 3` elements, hashed;
//! - an account leaf: `Poseidon(id hash, total equity, total debt, asset commitment)`;
//! - the empty leaf: the leaf of id 0 with no assets; an empty tree of depth `d`: hashing the
//!   empty node with itself `d` times;
//! - a batch: `Poseidon(root before, root after, asset list before, asset list after)`.

use super::poseidon::{hash, pack3};
use ark_bn254::Fr;
use ark_ff::Zero;

/// Depth of Gate's account tree.
pub const TREE_DEPTH: usize = 28;

/// Asset-list sizes Gate's code has used: the one a bundle uses is found from its first batch.
pub const KNOWN_SLOTS: [usize; 3] = [350, 500, 800];

/// One slot of the asset list: totals and price as fixed-point integers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssetTotals {
    /// Total equity.
    pub equity: u64,
    /// Total debt.
    pub debt: u64,
    /// Price.
    pub price: u64,
}

/// The commitment of an asset list (`slots.len()` slots in order).
pub fn asset_list_commitment(slots: &[AssetTotals]) -> Fr {
    let elements: Vec<Fr> = slots
        .iter()
        .map(|a| pack3(a.equity, a.debt, a.price))
        .collect();
    hash(&elements)
}

/// One user's holding of one asset slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserAsset {
    /// The asset's slot.
    pub index: u16,
    /// The user's equity in it.
    pub equity: u64,
    /// The user's debt in it.
    pub debt: u64,
}

/// A user's asset commitment over `slots` slots; `assets` in any order, at most one per slot
/// (the caller checks), slots outside the list ignored by the caller's check.
pub fn user_asset_commitment(assets: &[UserAsset], slots: usize) -> Fr {
    let mut values = vec![0u64; 2 * slots + 2];
    for a in assets {
        let i = usize::from(a.index);
        if i < slots {
            values[2 * i] = a.equity;
            values[2 * i + 1] = a.debt;
        }
    }
    let n = (2 * slots).div_ceil(3);
    let elements: Vec<Fr> = (0..n)
        .map(|i| pack3(values[3 * i], values[3 * i + 1], values[3 * i + 2]))
        .collect();
    hash(&elements)
}

/// An account leaf.
pub fn account_leaf(id_hash: Fr, equity: Fr, debt: Fr, asset_commitment: Fr) -> Fr {
    hash(&[id_hash, equity, debt, asset_commitment])
}

/// The empty account's leaf over `slots` asset slots.
pub fn empty_leaf(slots: usize) -> Fr {
    account_leaf(
        Fr::zero(),
        Fr::zero(),
        Fr::zero(),
        user_asset_commitment(&[], slots),
    )
}

/// The root of an empty tree of `depth` levels over `slots` asset slots.
pub fn empty_root(slots: usize, depth: usize) -> Fr {
    (0..depth).fold(empty_leaf(slots), |node, _| hash(&[node, node]))
}

/// A batch's commitment.
pub fn batch_commitment(roots: [Fr; 2], asset_lists: [Fr; 2]) -> Fr {
    hash(&[roots[0], roots[1], asset_lists[0], asset_lists[1]])
}

/// The root a Merkle path leads to: `siblings[i]` is the sibling at level `i` (from the leaf),
/// bit `i` of `index` says whether the node is the right child.
pub fn root_of_path(leaf: Fr, index: u64, siblings: &[Fr]) -> Fr {
    siblings.iter().enumerate().fold(leaf, |node, (i, s)| {
        if index >> i & 1 == 0 {
            hash(&[node, *s])
        } else {
            hash(&[*s, node])
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::liabilities::poseidon::element_to_be_bytes;

    /// The depth-28 empty tree the first batch of Gate's 2024-09-29 bundle starts from.
    #[test]
    fn the_empty_tree_of_350_slots() {
        let root = hex::encode(element_to_be_bytes(&empty_root(350, TREE_DEPTH)));
        assert!(root.starts_with("0118925954da"), "{root}");
        assert!(root.ends_with("b9ad58a"), "{root}");
    }

    #[test]
    fn paths_lead_to_their_root() {
        let leaves: Vec<Fr> = (1..=4u64).map(Fr::from).collect();
        let n01 = hash(&[leaves[0], leaves[1]]);
        let n23 = hash(&[leaves[2], leaves[3]]);
        let root = hash(&[n01, n23]);
        assert_eq!(root_of_path(leaves[2], 2, &[leaves[3], n01]), root);
        assert_eq!(root_of_path(leaves[1], 1, &[leaves[0], n23]), root);
        assert_ne!(root_of_path(leaves[1], 0, &[leaves[0], n23]), root);
    }

    #[test]
    fn user_values_pack_three_per_element() {
        // Slot 0's equity and debt and slot 1's equity share the first element.
        let a = [UserAsset {
            index: 1,
            equity: 9,
            debt: 0,
        }];
        let mut elements = vec![Fr::zero(); 2];
        elements[0] = pack3(0, 0, 9);
        assert_eq!(user_asset_commitment(&a, 2), hash(&elements));
    }
}
