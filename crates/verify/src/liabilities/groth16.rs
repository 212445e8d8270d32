//! Groth16 verification over BN254 of many proofs under one verifying key, each with one
//! public input: one proof at a time (arkworks' `verify_proof`), or all at once by a random
//! linear combination of their pairing equations.
//!
//! Each proof `(A, B, C)` with input `x` must satisfy `e(A, B) = e(α, β) · e(L(x), γ) · e(C, δ)`
//! with `L(x) = K[0] + x·K[1]`. With independent random 128-bit scalars `r_i` from the
//! operating system's CSPRNG, all of them hold (except with probability about `n / 2^128` for a
//! forged set) when
//! `Π e(r_i·A_i, B_i) · e(−Σr_i·α, β) · e(−(Σr_i·K[0] + Σr_i·x_i·K[1]), γ) · e(−Σr_i·C_i, δ) = 1`:
//! one multi-Miller loop split over the threads (each thread's part multiplied in) and one final
//! exponentiation, instead of four pairings per proof.

use super::encoding::{Proof, VerifyingKey};
use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::pairing::{MillerLoopOutput, Pairing};
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{One, Zero};
use rand::Rng;
use rayon::prelude::*;

/// A verifying key ready for checking proofs with one public input.
#[derive(Debug, Clone)]
pub struct Verifier {
    key: VerifyingKey,
    prepared: ark_groth16::PreparedVerifyingKey<Bn254>,
}

/// Why a key cannot check this bundle's proofs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the verifying key takes {inputs} public inputs; the bundle's proofs have exactly one (its K has {points} points, expected 2)")]
pub struct WrongInputCount {
    /// Public inputs the key takes.
    pub inputs: usize,
    /// Its K points.
    pub points: usize,
}

impl Verifier {
    /// A verifier for proofs with one public input under `key`.
    pub fn new(key: VerifyingKey) -> Result<Verifier, WrongInputCount> {
        if key.k.len() != 2 {
            return Err(WrongInputCount {
                inputs: key.k.len().saturating_sub(1),
                points: key.k.len(),
            });
        }
        let prepared = ark_groth16::prepare_verifying_key(&key.to_arkworks());
        Ok(Verifier { key, prepared })
    }

    /// Checks one proof with public input `x` (arkworks' Groth16 verifier).
    pub fn verify_one(&self, proof: &Proof, x: Fr) -> bool {
        let p = ark_groth16::Proof::<Bn254> {
            a: proof.a,
            b: proof.b,
            c: proof.c,
        };
        ark_groth16::Groth16::<Bn254>::verify_proof(&self.prepared, &p, &[x]).unwrap_or(false)
    }

    /// Checks each proof on its own, in parallel (on the current rayon pool): one verdict per
    /// item, in order.
    pub fn verify_each(&self, items: &[(Proof, Fr)]) -> Vec<bool> {
        items
            .par_iter()
            .map(|(p, x)| self.verify_one(p, *x))
            .collect()
    }

    /// Checks all proofs at once (random linear combination, one multi-pairing split over the
    /// current rayon pool's threads). True when every proof verifies (up to the soundness error
    /// above); false says some proof fails, not which.
    pub fn verify_batch(&self, items: &[(Proof, Fr)]) -> bool {
        if items.is_empty() {
            return true;
        }
        let mut rng = rand::thread_rng();
        // Never zero: a zero scalar would drop its proof from the check.
        let r: Vec<Fr> = (0..items.len())
            .map(|_| Fr::from(rng.gen::<u128>() | 1))
            .collect();
        let threads = rayon::current_num_threads().max(1);
        let chunk = items.len().div_ceil(threads * 4).max(1);
        let parts: Vec<(MillerLoopOutput<Bn254>, G1Projective, Fr, Fr)> = items
            .par_chunks(chunk)
            .zip(r.par_chunks(chunk))
            .map(|(items, r)| {
                let ra: Vec<G1Projective> =
                    items.iter().zip(r).map(|((p, _), r)| p.a * r).collect();
                let ra = G1Projective::normalize_batch(&ra);
                let bs: Vec<G2Affine> = items.iter().map(|(p, _)| p.b).collect();
                let ml = Bn254::multi_miller_loop(ra, bs);
                let cs: Vec<G1Affine> = items.iter().map(|(p, _)| p.c).collect();
                let rc = G1Projective::msm_unchecked(&cs, r);
                let sum_r: Fr = r.iter().sum();
                let sum_rx: Fr = items.iter().zip(r).map(|((_, x), r)| *x * r).sum();
                (ml, rc, sum_r, sum_rx)
            })
            .collect();
        let mut f = <Bn254 as Pairing>::TargetField::one();
        let (mut rc, mut sum_r, mut sum_rx) = (G1Projective::zero(), Fr::zero(), Fr::zero());
        for (ml, c, s, sx) in parts {
            f *= ml.0;
            rc += c;
            sum_r += s;
            sum_rx += sx;
        }
        let k = &self.key.k;
        let l = k[0] * sum_r + k[1] * sum_rx;
        let alpha = self.key.alpha.into_group() * sum_r;
        let g1 = G1Projective::normalize_batch(&[-alpha, -l, -rc]);
        let ml = Bn254::multi_miller_loop(g1, [self.key.beta, self.key.gamma, self.key.delta]);
        f *= ml.0;
        Bn254::final_exponentiation(MillerLoopOutput(f)).is_some_and(|out| out.0.is_one())
    }
}
