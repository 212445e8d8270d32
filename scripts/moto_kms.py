#!/usr/bin/env python3
"""A real AWS KMS API server on loopback for por-attest's KMS tests and benchmark.

It is moto's KMS (PyPI moto[server] 5.2.6, installed by scripts/setup into .venv-kms), the same
JSON protocol, SigV4 requests and error answers as AWS KMS, with two of moto's departures from
AWS fixed here, before the server starts, so that the ceremony is tested against what AWS does:

1. Sign ignores MessageType=DIGEST: moto hashes the 32-byte digest again, so its signatures
   never verify against the digest sent (upstream pull request getmoto/moto#10202 is open).
   Here a DIGEST message is signed as the SHA-256 digest it is (cryptography's Prehashed).
2. A disabled key, or one pending deletion, still signs and gives its public key. AWS answers
   DisabledException and KMSInvalidStateException; so does this server, for Sign and
   GetPublicKey.

And one extension of what moto already does: moto evaluates a key policy's Deny statements for
DescribeKey only; here Sign and GetPublicKey are checked the same way (AWS checks every call),
so a key whose policy denies kms:Sign answers AccessDeniedException.

Two scripted faults, for the tests of what the client does with them (AWS does both under load
or on a network failure; moto does neither):
  --throttle-every N     every Nth Sign request answers ThrottlingException
  --exit-after-signs N   the Sign request after the first N makes the server exit at once
                         (connections reset: the endpoint has gone away)

Keys are created before the server starts, from --keys, a JSON list of
  {"alias": "alias/hot-1", "spec": "ECC_SECG_P256K1", "usage": "SIGN_VERIFY",
   "state": "Enabled" | "Disabled" | "PendingDeletion", "deny": ["kms:Sign"]}
(every field optional; --secp256k1 N adds N enabled keys alias/hot-1 ... alias/hot-N).
Once listening, one JSON line goes to stdout:
  {"port": P, "region": R, "keys": [{"alias", "key_id", "arn", "public_key" (SEC1 hex or null)}]}
then it serves until killed (the tests stop it by PID).
"""

import argparse
import base64
import json
import os
import sys
import threading

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from moto.core.exceptions import JsonRESTError
from moto.kms import policy_validator
from moto.kms.exceptions import AccessDeniedException, ValidationException
from moto.kms.models import kms_backends
from moto.kms.responses import KmsResponse
from moto.server import ThreadedMotoServer

ACCOUNT = "123456789012"


def check_usable(key, action):
    """What AWS checks before Sign and GetPublicKey: the key's state, then its policy."""
    if key.key_state == "Disabled":
        raise JsonRESTError("DisabledException", f"{key.arn} is disabled.")
    if key.key_state != "Enabled":
        raise JsonRESTError(
            "KMSInvalidStateException", f"{key.arn} is pending deletion."
            if key.key_state == "PendingDeletion" else f"{key.arn} is {key.key_state}."
        )
    policy_validator.validate_policy(key, action)


# moto's validator knows the action names of DescribeKey only.
for action in ("kms:Sign", "kms:GetPublicKey"):
    policy_validator.ALTERNATIVE_ACTIONS[action] = ["kms:*", action]

faults = {"throttle_every": 0, "exit_after_signs": -1, "signs": 0, "requests": 0}
faults_lock = threading.Lock()
moto_get_public_key = KmsResponse.get_public_key


def sign(self):
    key_id = self._get_param("KeyId")
    message = self._get_param("Message")
    message_type = self._get_param("MessageType") or "RAW"
    algorithm = self._get_param("SigningAlgorithm")
    with faults_lock:
        faults["requests"] += 1
        n = faults["requests"]
        if 0 <= faults["exit_after_signs"] <= faults["signs"]:
            os._exit(3)
        if faults["throttle_every"] and n % faults["throttle_every"] == 0:
            raise JsonRESTError("ThrottlingException", "Rate exceeded")
    self._validate_key_id(key_id)
    key = self.kms_backend.describe_key(self.kms_backend.get_key_id(key_id))
    check_usable(key, "kms:Sign")
    if key.key_usage != "SIGN_VERIFY":
        raise JsonRESTError("InvalidKeyUsageException", f"{key.arn} key usage is {key.key_usage}")
    if isinstance(message, str):
        message = base64.b64decode(message)
    if not message:
        raise ValidationException("Message must have length greater than or equal to 1")
    if algorithm not in key.signing_algorithms:
        raise ValidationException(f"SigningAlgorithm {algorithm} is not valid for {key.arn}")
    private = key.private_key.private_key
    if message_type == "DIGEST":
        if algorithm != "ECDSA_SHA_256" or not isinstance(private, ec.EllipticCurvePrivateKey):
            raise ValidationException("this server signs DIGEST messages with ECDSA_SHA_256 only")
        if len(message) != 32:
            raise ValidationException("Digest is invalid length for algorithm ECDSA_SHA_256.")
        signature = private.sign(message, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    else:
        signature = key.private_key.sign(message, algorithm)
    with faults_lock:
        faults["signs"] += 1
    return json.dumps({
        "KeyId": key.arn,
        "Signature": base64.b64encode(signature).decode(),
        "SigningAlgorithm": algorithm,
    })


def get_public_key(self):
    key_id = self._get_param("KeyId")
    self._validate_key_id(key_id)
    key = self.kms_backend.describe_key(self.kms_backend.get_key_id(key_id))
    check_usable(key, "kms:GetPublicKey")
    return moto_get_public_key(self)


KmsResponse.sign = sign
KmsResponse.get_public_key = get_public_key


def deny_policy(actions):
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"},
            {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": actions, "Resource": "*"},
        ],
    })


def create_keys(region, specs):
    backend = kms_backends[ACCOUNT][region]
    out = []
    for s in specs:
        policy = deny_policy(s["deny"]) if s.get("deny") else None
        key = backend.create_key(
            policy, s.get("usage", "SIGN_VERIFY"), s.get("spec", "ECC_SECG_P256K1"),
            s.get("description", ""), None,
        )
        if s.get("alias"):
            backend.create_alias(key.id, s["alias"])
        state = s.get("state", "Enabled")
        if state == "Disabled":
            backend.disable_key(key.id)
        elif state == "PendingDeletion":
            backend.schedule_key_deletion(key.id, 7)
        public = None
        inner = getattr(key.private_key, "private_key", None)
        if isinstance(inner, ec.EllipticCurvePrivateKey) and isinstance(inner.curve, ec.SECP256K1):
            public = inner.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
            ).hex()
        out.append({"alias": s.get("alias"), "key_id": key.id, "arn": key.arn, "public_key": public})
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0, help="0: a free port (printed)")
    p.add_argument("--region", default="eu-west-1")
    p.add_argument("--keys", default="[]", help="JSON list of keys to create")
    p.add_argument("--secp256k1", type=int, default=0, help="N more keys alias/hot-1..N")
    p.add_argument("--throttle-every", type=int, default=0)
    p.add_argument("--exit-after-signs", type=int, default=-1)
    a = p.parse_args()
    faults["throttle_every"] = a.throttle_every
    faults["exit_after_signs"] = a.exit_after_signs
    specs = json.loads(a.keys) + [{"alias": f"alias/hot-{i}"} for i in range(1, a.secp256k1 + 1)]
    keys = create_keys(a.region, specs)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=a.port, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(json.dumps({"port": port, "region": a.region, "keys": keys}), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
