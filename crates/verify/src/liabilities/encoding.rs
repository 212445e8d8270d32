//! gnark v0.7's binary encodings of BN254 points, Groth16 proofs and verifying keys
//! (`WriteRawTo`): big-endian, uncompressed.
//!
//! - a base-field element: 32 bytes, below the modulus;
//! - G1: `x | y` (64 bytes); the top two bits of the first byte are gnark's flags and must be
//!   `00` (uncompressed); all zeros is the point at infinity;
//! - G2: `X.A1 | X.A0 | Y.A1 | Y.A0` (128 bytes), the same flags on the first byte;
//! - a proof: `Ar (G1) | Bs (G2) | Krs (G1)` (256 bytes);
//! - a verifying key: `α (G1) | β (G1) | β (G2) | γ (G2) | δ (G1) | δ (G2) | count (u32) | K[count]
//!   (G1)`.
//!
//! Every point is checked on the curve and in the prime-order subgroup (G2's cofactor is not 1);
//! a bad point is an error naming what it is, never a panic.

use ark_bn254::{Fq, Fq2, G1Affine, G2Affine};
use ark_ec::short_weierstrass::{Affine, SWCurveConfig};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, PrimeField, Zero};

/// Bytes of a G1 point.
pub const G1_LEN: usize = 64;
/// Bytes of a G2 point.
pub const G2_LEN: usize = 128;
/// Bytes of a proof.
pub const PROOF_LEN: usize = G1_LEN + G2_LEN + G1_LEN;

/// Why bytes are not a point, proof or key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodingError {
    /// Not the expected number of bytes.
    #[error("{what}: {found} bytes, expected {expected}")]
    Length {
        /// What was read.
        what: String,
        /// Bytes found.
        found: usize,
        /// Bytes expected.
        expected: usize,
    },
    /// The flag bits say compressed (or infinity) where gnark writes uncompressed points.
    #[error("{what}: flag bits {flags:#04b} (only uncompressed points, flags 00, are read)")]
    Flags {
        /// Which point.
        what: String,
        /// The two flag bits.
        flags: u8,
    },
    /// A coordinate at or above the base field's modulus.
    #[error("{what}: a coordinate is not below the field modulus")]
    Coordinate {
        /// Which point.
        what: String,
    },
    /// The coordinates do not satisfy the curve equation.
    #[error("{what}: not on the curve")]
    NotOnCurve {
        /// Which point.
        what: String,
    },
    /// On the curve but outside the prime-order subgroup.
    #[error("{what}: not in the prime-order subgroup")]
    NotInSubgroup {
        /// Which point.
        what: String,
    },
}

/// The four little-endian 64-bit limbs of 32 big-endian bytes.
pub fn limbs_of_be(bytes: &[u8; 32]) -> [u64; 4] {
    let mut limbs = [0u64; 4];
    for (i, limb) in limbs.iter_mut().enumerate() {
        let at = 32 - 8 * (i + 1);
        *limb = u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    }
    limbs
}

/// 32 big-endian bytes of four little-endian 64-bit limbs.
pub fn be_of_limbs(limbs: &[u64; 4]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, limb) in limbs.iter().enumerate() {
        let at = 32 - 8 * (i + 1);
        out[at..at + 8].copy_from_slice(&limb.to_be_bytes());
    }
    out
}

fn fq(bytes: &[u8], what: &str) -> Result<Fq, EncodingError> {
    let bytes: &[u8; 32] = bytes.try_into().expect("32-byte coordinates");
    Fq::from_bigint(BigInt(limbs_of_be(bytes)))
        .ok_or_else(|| EncodingError::Coordinate { what: what.into() })
}

/// `(x, y)` as a point, checked: all zeros is infinity, else on the curve and in the subgroup.
fn checked<P: SWCurveConfig>(
    x: P::BaseField,
    y: P::BaseField,
    what: &str,
) -> Result<Affine<P>, EncodingError> {
    if x.is_zero() && y.is_zero() {
        return Ok(Affine::<P>::zero());
    }
    let p = Affine::<P>::new_unchecked(x, y);
    if !p.is_on_curve() {
        return Err(EncodingError::NotOnCurve { what: what.into() });
    }
    if !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err(EncodingError::NotInSubgroup { what: what.into() });
    }
    Ok(p)
}

fn flags(first: u8, what: &str) -> Result<(), EncodingError> {
    match first >> 6 {
        0 => Ok(()),
        f => Err(EncodingError::Flags {
            what: what.into(),
            flags: f,
        }),
    }
}

fn length(bytes: &[u8], expected: usize, what: &str) -> Result<(), EncodingError> {
    if bytes.len() == expected {
        Ok(())
    } else {
        Err(EncodingError::Length {
            what: what.into(),
            found: bytes.len(),
            expected,
        })
    }
}

/// A G1 point from its 64 raw bytes, checked.
pub fn g1(bytes: &[u8], what: &str) -> Result<G1Affine, EncodingError> {
    length(bytes, G1_LEN, what)?;
    flags(bytes[0], what)?;
    checked(fq(&bytes[..32], what)?, fq(&bytes[32..], what)?, what)
}

/// A G2 point from its 128 raw bytes, checked (on the curve, then the subgroup).
pub fn g2(bytes: &[u8], what: &str) -> Result<G2Affine, EncodingError> {
    length(bytes, G2_LEN, what)?;
    flags(bytes[0], what)?;
    let x = Fq2::new(fq(&bytes[32..64], what)?, fq(&bytes[..32], what)?);
    let y = Fq2::new(fq(&bytes[96..], what)?, fq(&bytes[64..96], what)?);
    checked(x, y, what)
}

/// A Groth16 proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proof {
    /// `Ar`.
    pub a: G1Affine,
    /// `Bs`.
    pub b: G2Affine,
    /// `Krs`.
    pub c: G1Affine,
}

/// A proof from its 256 raw bytes.
pub fn proof(bytes: &[u8]) -> Result<Proof, EncodingError> {
    length(bytes, PROOF_LEN, "proof")?;
    Ok(Proof {
        a: g1(&bytes[..G1_LEN], "proof point Ar (G1)")?,
        b: g2(&bytes[G1_LEN..G1_LEN + G2_LEN], "proof point Bs (G2)")?,
        c: g1(&bytes[G1_LEN + G2_LEN..], "proof point Krs (G1)")?,
    })
}

/// A Groth16 verifying key (the parts verification uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    /// α (G1).
    pub alpha: G1Affine,
    /// β (G2).
    pub beta: G2Affine,
    /// γ (G2).
    pub gamma: G2Affine,
    /// δ (G2).
    pub delta: G2Affine,
    /// K: one point for the constant 1 and one per public input.
    pub k: Vec<G1Affine>,
}

impl VerifyingKey {
    /// As arkworks' verifying key (its `beta_g1`/`delta_g1`-free form).
    pub fn to_arkworks(&self) -> ark_groth16::VerifyingKey<ark_bn254::Bn254> {
        ark_groth16::VerifyingKey {
            alpha_g1: self.alpha,
            beta_g2: self.beta,
            gamma_g2: self.gamma,
            delta_g2: self.delta,
            gamma_abc_g1: self.k.clone(),
        }
    }
}

/// A verifying key from gnark's raw encoding; the whole buffer must be the key.
pub fn verifying_key(bytes: &[u8]) -> Result<VerifyingKey, EncodingError> {
    const HEAD: usize = 3 * G1_LEN + 3 * G2_LEN;
    if bytes.len() < HEAD + 4 {
        return Err(EncodingError::Length {
            what: "verifying key".into(),
            found: bytes.len(),
            expected: HEAD + 4,
        });
    }
    let mut at = 0;
    let mut take = |n: usize| {
        let s = &bytes[at..at + n];
        at += n;
        s
    };
    let alpha = g1(take(G1_LEN), "verifying key α (G1)")?;
    let _beta_g1 = g1(take(G1_LEN), "verifying key β (G1)")?;
    let beta = g2(take(G2_LEN), "verifying key β (G2)")?;
    let gamma = g2(take(G2_LEN), "verifying key γ (G2)")?;
    let _delta_g1 = g1(take(G1_LEN), "verifying key δ (G1)")?;
    let delta = g2(take(G2_LEN), "verifying key δ (G2)")?;
    let count = u32::from_be_bytes(take(4).try_into().expect("4 bytes")) as usize;
    let expected = HEAD + 4 + count.saturating_mul(G1_LEN);
    if bytes.len() != expected {
        return Err(EncodingError::Length {
            what: format!("verifying key with {count} K points"),
            found: bytes.len(),
            expected,
        });
    }
    let k = (0..count)
        .map(|i| g1(take(G1_LEN), &format!("verifying key K[{i}] (G1)")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(VerifyingKey {
        alpha,
        beta,
        gamma,
        delta,
        k,
    })
}

/// gnark's raw bytes of a G1 point (for tests and tools that build inputs).
pub fn g1_bytes(p: &G1Affine) -> [u8; G1_LEN] {
    let mut out = [0u8; G1_LEN];
    if let Some((x, y)) = p.xy() {
        out[..32].copy_from_slice(&fq_bytes(&x));
        out[32..].copy_from_slice(&fq_bytes(&y));
    }
    out
}

/// gnark's raw bytes of a G2 point.
pub fn g2_bytes(p: &G2Affine) -> [u8; G2_LEN] {
    let mut out = [0u8; G2_LEN];
    if let Some((x, y)) = p.xy() {
        out[..32].copy_from_slice(&fq_bytes(&x.c1));
        out[32..64].copy_from_slice(&fq_bytes(&x.c0));
        out[64..96].copy_from_slice(&fq_bytes(&y.c1));
        out[96..].copy_from_slice(&fq_bytes(&y.c0));
    }
    out
}

fn fq_bytes(e: &Fq) -> [u8; 32] {
    be_of_limbs(&e.into_bigint().0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::{CurveGroup, PrimeGroup};

    #[test]
    fn points_round_trip_and_bad_points_are_errors() {
        let p1 = (ark_bn254::G1Projective::generator() * ark_bn254::Fr::from(7u64)).into_affine();
        let p2 = (ark_bn254::G2Projective::generator() * ark_bn254::Fr::from(9u64)).into_affine();
        assert_eq!(g1(&g1_bytes(&p1), "p").unwrap(), p1);
        assert_eq!(g2(&g2_bytes(&p2), "q").unwrap(), p2);
        assert_eq!(g1(&[0; 64], "p").unwrap(), G1Affine::zero());
        assert_eq!(g2(&[0; 128], "q").unwrap(), G2Affine::zero());

        let mut off = g1_bytes(&p1);
        off[63] ^= 1;
        assert_eq!(
            g1(&off, "Ar").unwrap_err().to_string(),
            "Ar: not on the curve"
        );
        let mut off = g2_bytes(&p2);
        off[127] ^= 1;
        assert_eq!(
            g2(&off, "Bs").unwrap_err().to_string(),
            "Bs: not on the curve"
        );
        let mut flagged = g1_bytes(&p1);
        flagged[0] |= 0x80;
        assert!(matches!(
            g1(&flagged, "Ar"),
            Err(EncodingError::Flags { flags: 2, .. })
        ));
        let mut big = [0u8; 64];
        big[..32].copy_from_slice(
            &hex::decode("30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47")
                .unwrap(),
        );
        assert!(matches!(
            g1(&big, "Ar"),
            Err(EncodingError::Coordinate { .. })
        ));
        assert!(matches!(
            g1(&[0; 63], "Ar"),
            Err(EncodingError::Length { found: 63, .. })
        ));
    }

    /// A point on the twist but outside the order-r subgroup is refused.
    #[test]
    fn g2_outside_the_subgroup() {
        // Find a point on the twist y² = x³ + b' by trying x = 1, 2, …; such a point is in the
        // subgroup only with negligible probability (the cofactor is large).
        let b = ark_bn254::g2::Config::COEFF_B;
        let mut x = Fq2::new(Fq::from(1u64), Fq::zero());
        let p = loop {
            use ark_ff::Field;
            let rhs = x.square() * x + b;
            if let Some(y) = rhs.sqrt() {
                break G2Affine::new_unchecked(x, y);
            }
            x += Fq2::new(Fq::from(1u64), Fq::zero());
        };
        assert!(p.is_on_curve());
        assert!(matches!(
            g2(&g2_bytes(&p), "Bs"),
            Err(EncodingError::NotInSubgroup { .. })
        ));
    }

    #[test]
    fn proof_and_key_lengths() {
        assert!(matches!(
            proof(&[0; 255]),
            Err(EncodingError::Length { expected: 256, .. })
        ));
        let e = verifying_key(&[0; 10]).unwrap_err().to_string();
        assert!(e.contains("verifying key: 10 bytes"), "{e}");
    }
}
