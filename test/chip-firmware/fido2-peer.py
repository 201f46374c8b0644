"""python-fido2 as an independent CTAP2 client for the chip firmware tests.

It speaks CTAP2 to a device whose CTAPHID transport is this process's stdin/stdout: each request
goes out as one JSON line {"cmd", "data"}; the test answers with {"data"}. The last line is
"RESULT " followed by JSON.
"""
import hashlib
import json
import sys
import traceback

from fido2.ctap import CtapDevice, CtapError
from fido2.ctap2 import ClientPin, Ctap2, CredentialManagement
from fido2.ctap2.pin import PinProtocolV1, PinProtocolV2
from fido2.hid import CAPABILITY


class PipeDevice(CtapDevice):
    """CTAPHID carried by the test process: framing there, CTAP2 here."""

    capabilities = CAPABILITY.CBOR | CAPABILITY.WINK

    def call(self, cmd, data=b"", event=None, on_keepalive=None):
        sys.stdout.write(json.dumps({"cmd": int(cmd), "data": bytes(data).hex()}) + "\n")
        sys.stdout.flush()
        return bytes.fromhex(json.loads(sys.stdin.readline())["data"])

    def close(self):
        pass

    @classmethod
    def list_devices(cls):
        return iter(())


def h(s):
    return hashlib.sha256(s.encode()).digest()


def credman_scenario(proto_cls):
    ctap = Ctap2(PipeDevice())
    proto = proto_cls()
    pin = ClientPin(ctap, proto)
    pin.set_pin("4711")
    out = {"retries": pin.get_pin_retries()[0]}
    params = [{"type": "public-key", "alg": -7}]
    for rp_id, users in (("example.com", ["anna", "bent"]), ("other.example", ["carl"])):
        token = pin.get_pin_token("4711", ClientPin.PERMISSION.MAKE_CREDENTIAL, rp_id)
        for name in users:
            cdh = h("register " + name)
            ctap.make_credential(
                cdh,
                {"id": rp_id, "name": rp_id},
                {"id": name.encode(), "name": name + "@example.dk", "displayName": name.title()},
                params,
                options={"rk": True},
                pin_uv_param=proto.authenticate(token, cdh),
                pin_uv_protocol=proto.VERSION,
            )
    token = pin.get_pin_token("4711", ClientPin.PERMISSION.CREDENTIAL_MGMT)
    cm = CredentialManagement(ctap, proto, token)
    meta = cm.get_metadata()
    out["existing"] = meta[CredentialManagement.RESULT.EXISTING_CRED_COUNT]
    out["remaining"] = meta[CredentialManagement.RESULT.MAX_REMAINING_COUNT]
    out["rps"] = sorted(r[CredentialManagement.RESULT.RP]["id"] for r in cm.enumerate_rps())
    creds = cm.enumerate_creds(h("example.com"))
    out["users"] = sorted(c[CredentialManagement.RESULT.USER]["name"] for c in creds)
    first = creds[0]
    cred_id = first[CredentialManagement.RESULT.CREDENTIAL_ID]
    user = first[CredentialManagement.RESULT.USER]
    cm.update_user_info(cred_id, {"id": user["id"], "name": "renamed@example.dk"})
    out["renamed"] = sorted(
        c[CredentialManagement.RESULT.USER]["name"] for c in cm.enumerate_creds(h("example.com"))
    )
    cm.delete_cred(cred_id)
    out["after_delete"] = cm.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT]
    try:
        pin.get_pin_token("0000", ClientPin.PERMISSION.GET_ASSERTION, "example.com")
        out["wrong_pin"] = "accepted"
    except CtapError as e:
        out["wrong_pin"] = e.code.name if hasattr(e.code, "name") else int(e.code)
    out["retries_after"] = pin.get_pin_retries()[0]
    return out


def main():
    proto = {"1": PinProtocolV1, "2": PinProtocolV2}[sys.argv[1]]
    try:
        result = {"ok": True, **credman_scenario(proto)}
    except Exception as e:  # report everything to the test
        result = {"ok": False, "error": repr(e), "trace": traceback.format_exc()}
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


main()
