# por-attest's HWI session: one Python process using hwilib for a whole signing run, so that
# the ceremony does not pay HWI's start-up (imports, enumeration, connecting) on every call.
#
# Protocol: one JSON object per line on stdin, one JSON answer per line on stdout, in order.
# Answers are what `hwi` itself prints for the same command (`{"error": ..., "code": ...}` on
# failure); the first line out is `{"ready": true, "version": ...}` once hwilib is imported.
# Requests: {"command": "enumerate", "chain": C}, {"command": "open", "device_type": T,
# "device_path": P, "chain": C}, {"command": "fingerprint"}, {"command": "getxpub", "path": P},
# {"command": "displayaddress", "path": P, "addr_type": A} or {..., "desc": D},
# {"command": "signmessage", "message": M, "path": P}, {"command": "signtx", "psbt": B64}.
# End of input closes the device and exits.
import json
import sys


def answer(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    try:
        import hwilib
        from hwilib import commands
        from hwilib.common import AddressType, Chain
        from hwilib.errors import handle_errors, UNKNOWN_ERROR, DEVICE_CONN_ERROR
    except Exception as e:  # hwilib is not installed for this interpreter
        answer({"error": "cannot import hwilib: %s" % e, "code": -13})
        return
    answer({"ready": True, "version": getattr(hwilib, "__version__", "?")})
    client = None

    def chain_of(req):
        return Chain.argparse(req.get("chain", "main"))

    def run(req):
        nonlocal client
        cmd = req.get("command")
        if cmd == "enumerate":
            return commands.enumerate(chain=chain_of(req))
        if cmd == "open":
            result = {}
            with handle_errors(result=result, code=DEVICE_CONN_ERROR):
                client = commands.get_client(
                    req["device_type"], req["device_path"], chain=chain_of(req)
                )
            if "error" in result:
                return result
            if client is None:
                return {"error": "Unable to communicate with device", "code": UNKNOWN_ERROR}
            return {"opened": True}
        if client is None:
            return {"error": "no device open", "code": -1}
        if cmd == "fingerprint":
            return {"fingerprint": client.get_master_fingerprint().hex()}
        if cmd == "getxpub":
            return commands.getxpub(client, req["path"])
        if cmd == "displayaddress":
            addr_type = AddressType.argparse(req.get("addr_type", "wit"))
            return commands.displayaddress(
                client, path=req.get("path"), desc=req.get("desc"), addr_type=addr_type
            )
        if cmd == "signmessage":
            return commands.signmessage(client, req["message"], req["path"])
        if cmd == "signtx":
            return commands.signtx(client, req["psbt"])
        return {"error": "unknown command %r" % cmd, "code": -2}

    for line in sys.stdin:
        if not line.strip():
            continue
        result = {}
        with handle_errors(result=result):
            result = run(json.loads(line))
        answer(result)
    if client is not None:
        try:
            client.close()
        except Exception:
            pass


main()
