//! The Poseidon hash of Gate's zk-SNARK liabilities proofs: the variant in Gate's fork of
//! gnark-crypto v0.7.1 (`ecc/bn254/fr/poseidon`), over BN254's scalar field.
//!
//! It uses circomlib's parameters (x^5 S-box, 8 full rounds, partial rounds by width, widths 2
//! to 13, taken from `light-poseidon`), with two differences from circomlib's `Poseidon`:
//! - it returns `state[1]` of the final permutation, not `state[0]`;
//! - more than 12 inputs are absorbed 12 at a time at width 13 (each chunk overwrites
//!   `state[1..=12]`, `state[0]` carries over), and a remainder of `r` inputs at width `r + 1`.
//!
//! The fork's own test vectors (`poseidon_test.go`: inputs 1,2; 1,2,3,4; 1..24; 1..30) are this
//! module's first tests.

use super::encoding::{be_of_limbs, limbs_of_be};
use ark_bn254::Fr;
use ark_ff::{Field, PrimeField, Zero};
use light_poseidon::parameters::bn254_x5::get_poseidon_parameters;
use light_poseidon::PoseidonParameters;
use std::sync::OnceLock;

/// Inputs absorbed per permutation at the widest width (13).
pub const MAX_RATE: usize = 12;

/// circomlib's parameters for widths 2..=13, built once.
fn parameters(width: usize) -> &'static PoseidonParameters<Fr> {
    static ALL: OnceLock<Vec<PoseidonParameters<Fr>>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        (2..=MAX_RATE + 1)
            .map(|t| {
                get_poseidon_parameters::<Fr>(t as u8)
                    .expect("light-poseidon has circom parameters for widths 2 to 13")
            })
            .collect()
    });
    &all[width - 2]
}

fn sbox(x: &mut Fr) {
    let x2 = x.square();
    *x *= x2.square();
}

/// The Poseidon permutation of `state` (width 2..=13) with circomlib's parameters.
pub fn permute(state: &mut [Fr]) {
    let t = state.len();
    let p = parameters(t);
    let half = p.full_rounds / 2;
    let rounds = p.full_rounds + p.partial_rounds;
    let mut next = [Fr::zero(); MAX_RATE + 1];
    for round in 0..rounds {
        for (s, c) in state.iter_mut().zip(&p.ark[round * t..(round + 1) * t]) {
            *s += c;
        }
        if round < half || round >= half + p.partial_rounds {
            state.iter_mut().for_each(sbox);
        } else {
            sbox(&mut state[0]);
        }
        for (i, n) in next[..t].iter_mut().enumerate() {
            *n = state
                .iter()
                .zip(&p.mds[i])
                .fold(Fr::zero(), |acc, (s, m)| acc + *s * m);
        }
        state.copy_from_slice(&next[..t]);
    }
}

/// Gate's Poseidon of `inputs` (at least one).
///
/// # Panics
/// On no input, as the fork does: callers always hash a fixed, non-zero number of elements.
pub fn hash(inputs: &[Fr]) -> Fr {
    assert!(!inputs.is_empty(), "Poseidon of no input");
    let mut state = [Fr::zero(); MAX_RATE + 1];
    let chunks = inputs.chunks(MAX_RATE);
    let mut out = Fr::zero();
    for chunk in chunks {
        state[1..=chunk.len()].copy_from_slice(chunk);
        let width = chunk.len() + 1;
        permute(&mut state[..width]);
        out = state[1];
    }
    out
}

/// An element from big-endian bytes, refused when it is not below the field's modulus (what
/// the fork's `Write` and `PoseidonBytes` require); any length up to 32 bytes.
pub fn element_from_be_bytes(bytes: &[u8]) -> Option<Fr> {
    if bytes.len() > 32 {
        return None;
    }
    let mut full = [0u8; 32];
    full[32 - bytes.len()..].copy_from_slice(bytes);
    Fr::from_bigint(ark_ff::BigInt(limbs_of_be(&full)))
}

/// The 32 big-endian bytes of an element (gnark's `Bytes()`).
pub fn element_to_be_bytes(e: &Fr) -> [u8; 32] {
    be_of_limbs(&e.into_bigint().0)
}

/// An element from a `u128`.
pub fn element_from_u128(v: u128) -> Fr {
    Fr::from(v)
}

/// `a·2^128 + b·2^64 + c` for three 64-bit values: how Gate packs an asset (equity, debt,
/// price) or three of a user's amounts into one element.
pub fn pack3(a: u64, b: u64, c: u64) -> Fr {
    let two64 = Fr::from(1u128 << 64);
    (Fr::from(a) * two64 + Fr::from(b)) * two64 + Fr::from(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Fr {
        let b = hex::decode(format!("{s:0>64}")).unwrap();
        element_from_be_bytes(&b).unwrap()
    }

    fn counting(n: u64) -> Vec<Fr> {
        (1..=n).map(Fr::from).collect()
    }

    /// The vectors of the fork's `poseidon_test.go`, first.
    #[test]
    fn the_forks_own_vectors() {
        assert_eq!(
            hash(&counting(2)),
            hex("FCA49B798923AB0239DE1C9E7A4A9A2210312B6A2F616D18B5A87F9B628AE29")
        );
        assert_eq!(
            hash(&counting(4)),
            hex("1148AAEF609AA338B27DAFD89BB98862D8BB2B429ACEAC47D86206154FFE053D")
        );
        assert_eq!(
            hash(&counting(24)),
            hex("6C7676E83EF8CB9EF6C25746A5F6B2D39FBA4548B4C29B3D41490BBF3C1108D")
        );
        assert_eq!(
            hash(&counting(30)),
            hex("2FF47AB8E9E9F6134600A8DE8B8E99596E573620A7D8D39ED7B2C7CEF9F105F1")
        );
    }

    /// circomlib's Poseidon(1, 2) is the same permutation's `state[0]`: the variant differs in
    /// the element it returns, not in the permutation.
    #[test]
    fn the_permutation_is_circomlibs() {
        let mut s = [Fr::zero(), Fr::from(1u64), Fr::from(2u64)];
        permute(&mut s);
        assert_eq!(
            s[0],
            hex("115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189a")
        );
    }

    #[test]
    fn bytes_round_trip_and_the_modulus() {
        let e = hex("171cfd97a75b5cdff1b511f6e447b1d35c8cca7a2172d11e1c145a89fbf23a99");
        assert_eq!(
            hex::encode(element_to_be_bytes(&e)),
            "171cfd97a75b5cdff1b511f6e447b1d35c8cca7a2172d11e1c145a89fbf23a99"
        );
        let r = hex::decode("30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001")
            .unwrap();
        assert!(element_from_be_bytes(&r).is_none());
        assert!(element_from_be_bytes(&[0xff; 32]).is_none());
        assert!(element_from_be_bytes(&[1; 33]).is_none());
        assert_eq!(element_from_be_bytes(&[1, 0]), Some(Fr::from(256u64)));
        assert_eq!(pack3(0, 0, 7), Fr::from(7u64));
        assert_eq!(pack3(0, 1, 0), Fr::from(1u128 << 64));
        assert_eq!(element_from_u128(5), Fr::from(5u64));
    }
}
