#!/usr/bin/env python3
"""Proofs made by PyPI's bip322-core with its software cosigners (test keys from published
seed texts, regtest), for por-attest's verifier to check: the other direction of the
interop test (tests/bip322_interop.rs).

Writes one JSON line per proof: {"what", "address", "message", "signature"}:
* a finalized 2-of-3 P2WSH (sortedmulti) proof for every pair of cosigners, simple and full;
* a single-key P2WPKH proof, simple and full.
"""
import json
import sys

from bip322core.dev.keys import cosigner_from_text, generate_cosigner, wallet_from_cosigners
from bip322core.dev.signing import sign_psbt
from bip322core.psbt import create_psbt, finalize_psbt, signature_from_psbt

MESSAGES = ["por-attest interop", "", "UTF-8: öäü 测试"]


def keys(labels):
    made = [generate_cosigner(label=l, seed_text=f"por-attest interop {l}") for l in labels]
    return made, [cosigner_from_text(c["xpub_expression"]) for c in made]


def emit(what, derived, message, psbt_signers, variant):
    psbt = create_psbt(derived, message.encode("utf-8"), utxo_mode="both")
    for s in psbt_signers:
        sign_psbt(psbt, s["xprv_expression"])
    finalize_psbt(psbt)
    sig = signature_from_psbt(psbt, variant=variant)
    print(json.dumps({"what": what, "address": derived.address, "message": message, "signature": sig}))


def main() -> int:
    made, cos = keys("ABC")
    wallet = wallet_from_cosigners(2, cos, network="regtest")
    for i, message in enumerate(MESSAGES):
        derived = wallet.derive(i)
        for pair in [(0, 1), (0, 2), (1, 2)]:
            signers = [made[j] for j in pair]
            for variant in ["smp", "ful"]:
                emit(f"p2wsh 2-of-3 {pair} {variant}", derived, message, signers, variant)
    single, scos = keys("W")
    wpkh = wallet_from_cosigners(None, scos, network="regtest", wpkh=True)
    for i, message in enumerate(MESSAGES):
        for variant in ["smp", "ful"]:
            emit(f"p2wpkh {variant}", wpkh.derive(i), message, single, variant)
    return 0


if __name__ == "__main__":
    sys.exit(main())
