#!/usr/bin/env python3
"""A por-attest `command` signer adapter for Google Cloud KMS (protocol: docs/signers.md).

Reference adapter, NOT TESTED HERE: the machine that builds por-attest has no Google Cloud
access. The protocol side is the same as tests/support/soft_signer.py, which the tests run; the
Google Cloud calls follow the google-cloud-kms client library's documented API. Review it, and
rehearse with a test key ring, before a ceremony.

Keys: every ENABLED key version with algorithm EC_SIGN_SECP256K1_SHA256 in the key rings given,
named by its full resource name
  projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V
which is what the manifest's `key` column says. Signing: AsymmetricSign with the 32-byte digest
as `digest.sha256` (Cloud KMS signs a digest as given), CRC32C checked both ways as Google
recommends; the DER signature is returned as is (por-attest normalises s and checks it).

Credentials: Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, the gcloud user,
or the attached service account), which need cloudkms.cryptoKeyVersions.viewPublicKey,
cloudkms.cryptoKeyVersions.useToSign and cloudkms.cryptoKeys.list on the key rings. Nothing
secret is written to stdout or stderr.

Manifest:
  [[signers]]
  id = "gcp-1"
  kind = "command"
  command = ["examples/gcp_kms_signer.py", "--key-ring",
             "projects/acme/locations/europe-west1/keyRings/hot"]

Needs: pip install google-cloud-kms google-crc32c cryptography
"""

import argparse
import json
import sys

import google_crc32c
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.api_core import exceptions as gexc
from google.cloud import kms

PROTOCOL = 1
SECP256K1 = kms.CryptoKeyVersion.CryptoKeyVersionAlgorithm.EC_SIGN_SECP256K1_SHA256


def crc32c(data):
    return int(google_crc32c.value(data))


def list_keys(client, key_rings):
    keys = []
    for ring in key_rings:
        for key in client.list_crypto_keys(request={"parent": ring}):
            if key.purpose != kms.CryptoKey.CryptoKeyPurpose.ASYMMETRIC_SIGN:
                continue
            versions = client.list_crypto_key_versions(
                request={"parent": key.name, "filter": "state=ENABLED"}
            )
            for v in versions:
                if v.algorithm != SECP256K1:
                    continue
                pem = client.get_public_key(request={"name": v.name}).pem
                public = serialization.load_pem_public_key(pem.encode())
                if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(
                    public.curve, ec.SECP256K1
                ):
                    continue
                sec1 = public.public_bytes(
                    serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
                )
                keys.append({"key": v.name, "public_key": sec1.hex()})
    return keys


def sign(client, name, digest):
    response = client.asymmetric_sign(
        request={
            "name": name,
            "digest": {"sha256": digest},
            "digest_crc32c": crc32c(digest),
        }
    )
    if not response.verified_digest_crc32c:
        raise RuntimeError("Cloud KMS did not receive the digest intact (CRC32C)")
    if response.name != name:
        raise RuntimeError(f"Cloud KMS signed with {response.name}, not {name}")
    if crc32c(response.signature) != int(response.signature_crc32c):
        raise RuntimeError("the signature was corrupted in transit (CRC32C)")
    return response.signature


def error_code(e):
    if isinstance(e, gexc.NotFound):
        return "not_found"
    if isinstance(e, gexc.PermissionDenied):
        return "denied"
    if isinstance(e, gexc.FailedPrecondition):
        return "disabled"  # e.g. the key version is DISABLED or DESTROYED
    if isinstance(e, (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.TooManyRequests)):
        return "unavailable"
    return "error"


def main():
    p = argparse.ArgumentParser(description="por-attest command signer for Google Cloud KMS")
    p.add_argument("--key-ring", action="append", required=True,
                   help="projects/P/locations/L/keyRings/R (repeat for several)")
    a = p.parse_args()
    client = kms.KeyManagementServiceClient()
    for line in sys.stdin:
        req = json.loads(line)
        rid = req.get("id")
        try:
            method = req.get("method")
            if method == "hello":
                out = {"protocol": PROTOCOL, "name": "gcp_kms_signer.py (reference)"}
            elif method == "keys":
                out = {"keys": list_keys(client, a.key_ring)}
            elif method == "sign":
                digest = bytes.fromhex(req["digest"])
                if len(digest) != 32:
                    raise ValueError("the digest is not 32 bytes")
                out = {"signature": sign(client, req["key"], digest).hex()}
            else:
                out = {"error": {"code": "invalid", "message": f"unknown method {method}"}}
        except gexc.GoogleAPICallError as e:
            out = {"error": {"code": error_code(e), "message": str(e.message)}}
        except Exception as e:  # any other failure is answered, never a traceback on stdout
            out = {"error": {"code": "error", "message": str(e)}}
        out["id"] = rid
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
