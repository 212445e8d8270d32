#!/usr/bin/env python3
"""A `command` signer adapter for por-attest's tests (protocol: docs/signers.md).

It holds software secp256k1 keys, each the key of SHA-256("por-attest soft signer NAME"), and
answers the protocol on stdin/stdout with the `cryptography` package. Test-only: the keys are
public knowledge. Options script what a real service does:
  --keys a,b,c        the keys it holds
  --der               answer DER signatures (default: 64-byte r || s, s as signed, often high)
  --refuse NAME=CODE  answer `sign` for NAME with the error CODE (disabled, denied, ...)
  --exit-after N      exit (status 3) on the sign request after the first N
  --wrong-key NAME    sign NAME's digests with another key (a broken service)
"""

import argparse
import hashlib
import json
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils


def key(name):
    d = int.from_bytes(hashlib.sha256(f"por-attest soft signer {name}".encode()).digest(), "big")
    return ec.derive_private_key(d, ec.SECP256K1())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--keys", default="")
    p.add_argument("--der", action="store_true")
    p.add_argument("--refuse", action="append", default=[])
    p.add_argument("--exit-after", type=int, default=-1)
    p.add_argument("--wrong-key", default=None)
    a = p.parse_args()
    keys = {n: key(n) for n in a.keys.split(",") if n}
    refuse = dict(r.split("=", 1) for r in a.refuse)
    signed = 0
    for line in sys.stdin:
        req = json.loads(line)
        rid, method = req.get("id"), req.get("method")
        if method == "hello":
            out = {"id": rid, "protocol": 1, "name": "por-attest soft signer (tests)"}
        elif method == "keys":
            out = {"id": rid, "keys": [
                {"key": n, "public_key": k.public_key().public_bytes(
                    serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint).hex()}
                for n, k in keys.items()]}
        elif method == "sign":
            name = req.get("key")
            if 0 <= a.exit_after <= signed:
                sys.exit(3)
            if name in refuse:
                out = {"id": rid, "error": {"code": refuse[name], "message": f"key {name} is {refuse[name]}"}}
            elif name not in keys:
                out = {"id": rid, "error": {"code": "not_found", "message": f"no key {name}"}}
            else:
                k = key("someone else") if name == a.wrong_key else keys[name]
                digest = bytes.fromhex(req["digest"])
                der = k.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
                if a.der:
                    sig = der
                else:
                    r, s = utils.decode_dss_signature(der)
                    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
                signed += 1
                out = {"id": rid, "signature": sig.hex()}
        else:
            out = {"id": rid, "error": {"code": "invalid", "message": f"unknown method {method}"}}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
