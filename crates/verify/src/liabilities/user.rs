//! A user's inclusion proof (Gate's `user_config.json`) against a bundle's final account root:
//! the leaf recomputed from the user's id hash, total equity and debt (USD, fixed point) and
//! asset commitment, then hashed up its 28 siblings by the bits of its position.
//!
//! The file's fields: `Arrangement` (the leaf's position), `UniqueIdentification` (hex of the
//! 32-byte id hash), `TotalAssetEquity` and `TotalAssetDebt` (integers of any size),
//! `AssetDetails` (`[{Index, Equity, Debt}]`), `TreeRootHash` (hex) and `MerkleProofEncode`
//! (28 base64 siblings, leaf level first).

use super::commitment::{account_leaf, root_of_path, user_asset_commitment, UserAsset, TREE_DEPTH};
use super::poseidon::{element_from_be_bytes, element_to_be_bytes};
use crate::error::InputError;
use ark_bn254::Fr;
use base64::Engine;
use bigdecimal::num_bigint::BigUint;
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFile {
    #[serde(rename = "Arrangement")]
    arrangement: u32,
    #[serde(rename = "UniqueIdentification")]
    id: String,
    #[serde(rename = "TotalAssetEquity")]
    equity: Box<RawValue>,
    #[serde(rename = "TotalAssetDebt")]
    debt: Box<RawValue>,
    #[serde(rename = "AssetDetails")]
    assets: Vec<AssetDetail>,
    #[serde(rename = "TreeRootHash")]
    root: String,
    #[serde(rename = "MerkleProofEncode")]
    proof: Vec<String>,
}

#[derive(Deserialize)]
struct AssetDetail {
    #[serde(rename = "Index")]
    index: u16,
    #[serde(rename = "Equity")]
    equity: u64,
    #[serde(rename = "Debt")]
    debt: u64,
}

/// A user's inclusion proof, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProof {
    /// The leaf's position.
    pub index: u64,
    /// The id hash.
    pub id: Fr,
    /// Total equity (USD, fixed point).
    pub equity: Fr,
    /// Total debt.
    pub debt: Fr,
    /// The user's assets.
    pub assets: Vec<UserAsset>,
    /// The root the file names.
    pub root: Fr,
    /// The siblings, leaf level first.
    pub siblings: Vec<Fr>,
}

fn hex32(text: &str, field: &str) -> Result<Fr, String> {
    let b = hex::decode(text.trim().trim_start_matches("0x"))
        .map_err(|e| format!("{field}: not hex: {e}"))?;
    if b.len() != 32 {
        return Err(format!("{field}: {} bytes, expected 32", b.len()));
    }
    element_from_be_bytes(&b).ok_or_else(|| format!("{field}: not below the field modulus"))
}

fn integer(raw: &RawValue, field: &str) -> Result<Fr, String> {
    let text = raw.get().trim().trim_matches('"');
    let n = BigUint::parse_bytes(text.as_bytes(), 10)
        .filter(|_| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("{field}: `{text}` is not a whole number"))?;
    element_from_be_bytes(&n.to_bytes_be())
        .ok_or_else(|| format!("{field}: {text} is not below the field modulus"))
}

/// Parses a user file's text, with `slots` asset slots in the bundle.
pub fn parse_user(text: &str, file: &str, slots: usize) -> Result<UserProof, InputError> {
    let err = |why: String| InputError::new(file, why);
    let u: UserFile = serde_json::from_str(text)
        .map_err(|e| err(format!("not a user inclusion file (user_config.json): {e}")))?;
    if u.proof.len() != TREE_DEPTH {
        return Err(err(format!(
            "MerkleProofEncode: {} siblings, expected {TREE_DEPTH}",
            u.proof.len()
        )));
    }
    let siblings = u
        .proof
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let field = format!("MerkleProofEncode[{i}]");
            let b = base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .map_err(|e| format!("{field}: not base64: {e}"))?;
            if b.len() != 32 {
                return Err(format!("{field}: {} bytes, expected 32", b.len()));
            }
            element_from_be_bytes(&b).ok_or_else(|| format!("{field}: not below the field modulus"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    let mut assets: Vec<UserAsset> = Vec::with_capacity(u.assets.len());
    for (i, a) in u.assets.iter().enumerate() {
        if usize::from(a.index) >= slots {
            return Err(err(format!(
                "AssetDetails[{i}]: Index {} is beyond the bundle's {slots} asset slots",
                a.index
            )));
        }
        if assets.iter().any(|b| b.index == a.index) {
            return Err(err(format!(
                "AssetDetails[{i}]: Index {} is listed twice",
                a.index
            )));
        }
        assets.push(UserAsset {
            index: a.index,
            equity: a.equity,
            debt: a.debt,
        });
    }
    Ok(UserProof {
        index: u64::from(u.arrangement),
        id: hex32(&u.id, "UniqueIdentification").map_err(err)?,
        equity: integer(&u.equity, "TotalAssetEquity").map_err(err)?,
        debt: integer(&u.debt, "TotalAssetDebt").map_err(err)?,
        assets,
        root: hex32(&u.root, "TreeRootHash").map_err(err)?,
        siblings,
    })
}

impl UserProof {
    /// The user's leaf over `slots` asset slots.
    pub fn leaf(&self, slots: usize) -> Fr {
        account_leaf(
            self.id,
            self.equity,
            self.debt,
            user_asset_commitment(&self.assets, slots),
        )
    }

    /// The root its path leads to.
    pub fn path_root(&self, slots: usize) -> Fr {
        root_of_path(self.leaf(slots), self.index, &self.siblings)
    }
}

/// Hex of an element (64 digits).
pub fn hex_of(e: &Fr) -> String {
    hex::encode(element_to_be_bytes(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::liabilities::commitment::empty_leaf;
    use crate::liabilities::poseidon::hash;

    /// A sparse depth-28 tree of `users` at positions 0.. with every other leaf empty: the
    /// root and each user's siblings, built with the same hash as Gate's tree.
    fn tree(leaves: &[Fr], slots: usize) -> (Fr, Vec<Vec<Fr>>) {
        let mut level: Vec<Fr> = leaves.to_vec();
        let mut empty = empty_leaf(slots);
        let mut paths = vec![Vec::new(); leaves.len()];
        for _ in 0..TREE_DEPTH {
            if level.len() % 2 == 1 {
                level.push(empty);
            }
            for (i, p) in paths.iter_mut().enumerate() {
                let pos = i >> p.len();
                p.push(level[pos ^ 1]);
            }
            level = level.chunks(2).map(|c| hash(&[c[0], c[1]])).collect();
            empty = hash(&[empty, empty]);
        }
        (level[0], paths)
    }

    pub(crate) fn user_json(
        index: u32,
        id: &Fr,
        equity: &str,
        assets: &[UserAsset],
        root: &Fr,
        path: &[Fr],
    ) -> String {
        let details: Vec<String> = assets
            .iter()
            .map(|a| {
                format!(
                    r#"{{"Index":{},"Equity":{},"Debt":{}}}"#,
                    a.index, a.equity, a.debt
                )
            })
            .collect();
        let sib: Vec<String> = path
            .iter()
            .map(|s| {
                format!(
                    "\"{}\"",
                    base64::engine::general_purpose::STANDARD.encode(element_to_be_bytes(s))
                )
            })
            .collect();
        format!(
            r#"{{"Arrangement":{index},"UniqueIdentification":"{}","TotalAssetEquity":{equity},"TotalAssetDebt":0,"AssetDetails":[{}],"TreeRootHash":"{}","MerkleProofEncode":[{}]}}"#,
            hex_of(id),
            details.join(","),
            hex_of(root),
            sib.join(",")
        )
    }

    #[test]
    fn users_of_a_tree_built_with_the_same_hash() {
        let slots = 350;
        let users: Vec<(Fr, Vec<UserAsset>, &str)> = (0..3u64)
            .map(|i| {
                let assets = vec![UserAsset {
                    index: 112,
                    equity: 100_000_000 * (i + 1),
                    debt: 0,
                }];
                (Fr::from(1000 + i), assets, "658548000000000000000")
            })
            .collect();
        let leaves: Vec<Fr> = users
            .iter()
            .map(|(id, a, eq)| {
                let eq = Fr::from(eq.parse::<u128>().unwrap());
                account_leaf(*id, eq, Fr::from(0u64), user_asset_commitment(a, slots))
            })
            .collect();
        let (root, paths) = tree(&leaves, slots);
        for (i, (id, assets, eq)) in users.iter().enumerate() {
            let text = user_json(i as u32, id, eq, assets, &root, &paths[i]);
            let u = parse_user(&text, "user.json", slots).unwrap();
            assert_eq!(u.path_root(slots), root, "user {i}");
        }
        // Another user's equity, position or asset leads elsewhere.
        let (id, assets, _) = &users[1];
        let text = user_json(1, id, "1", assets, &root, &paths[1]);
        assert_ne!(
            parse_user(&text, "u", slots).unwrap().path_root(slots),
            root
        );
        let text = user_json(2, id, users[1].2, assets, &root, &paths[1]);
        assert_ne!(
            parse_user(&text, "u", slots).unwrap().path_root(slots),
            root
        );
    }

    #[test]
    fn malformed_user_files() {
        let slots = 350;
        let path = vec![Fr::from(1u64); TREE_DEPTH];
        let a = [UserAsset {
            index: 3,
            equity: 1,
            debt: 0,
        }];
        let good = user_json(0, &Fr::from(5u64), "12", &a, &Fr::from(9u64), &path);
        assert!(parse_user(&good, "u.json", slots).is_ok());
        let cases = [
            (
                good.replace("\"TotalAssetEquity\":12", "\"TotalAssetEquity\":-12"),
                "TotalAssetEquity: `-12` is not a whole number",
            ),
            (
                good.replace("\"Index\":3", "\"Index\":400"),
                "Index 400 is beyond the bundle's 350 asset slots",
            ),
            (good.replacen("\"AAAA", "\"*AAA", 1), "not base64"),
            (
                good.replace("Arrangement", "Arrangment"),
                "not a user inclusion file",
            ),
            (
                user_json(0, &Fr::from(5u64), "12", &a, &Fr::from(9u64), &path[..27]),
                "27 siblings, expected 28",
            ),
        ];
        for (text, needle) in cases {
            let e = parse_user(&text, "u.json", slots).unwrap_err().to_string();
            assert!(e.starts_with("u.json: "), "{e}");
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }
}
