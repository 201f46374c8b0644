"""python-fido2 as an independent FIDO client of our chip, over UDP.

usage: peer.py HOST PORT SCENARIO [LOCAL_PORT]
LOCAL_PORT: the fixed port answers come back to (the SoloKeys default semantic, where the device
answers a fixed host port); without it, any free port (the device answers the sender's port).
Each scenario drives the chip with fido2's own classes (Ctap2, ClientPin, Fido2Client, Ctap1),
checks what it can with fido2's own verifiers, and prints one JSON object of results (binary
values base64url) for the TypeScript side to assert and to verify again with another library.
A failure prints {"ok": false, "error": ...} and exits 1."""

import base64
import json
import os
import socket
import sys
import time
import traceback

from fido2.attestation import Attestation
from fido2.client import Fido2Client
from fido2.ctap import CtapError
from fido2.ctap1 import APDU, ApduError, Ctap1
from fido2.ctap2 import Ctap2
from fido2.ctap2.pin import ClientPin, PinProtocolV1, PinProtocolV2
from fido2.utils import sha256

from udp_device import open_udp_device

RP = {"id": "mitid.example", "name": "MitID test"}
ORIGIN = "https://login.mitid.example"
# The magic datagram the SoloKeys tools send to make their simulator reboot.
REBOOT = bytes.fromhex(
    "ac1052ca95e569de69e02ebff333485f13f9b2da34c5a8a340526697a9ab2e0b"
    "394d8d04973c134005be1a0140bff6045bb26eb77a73eaa47813f6b49a7250dc"
)


def b64(b):
    return base64.urlsafe_b64encode(bytes(b)).rstrip(b"=").decode()


def user(name):
    return {"id": os.urandom(16), "name": name, "displayName": name}


def create_options(name, **extra):
    options = {
        "rp": RP,
        "user": user(name),
        "challenge": os.urandom(32),
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
    }
    options.update(extra)
    return options


def get_options(**extra):
    options = {"rpId": RP["id"], "challenge": os.urandom(32)}
    options.update(extra)
    return options


def verify_registration(result):
    """fido2's own checks: packed attestation signature and certificate, then returns the key."""
    att = result.attestation_object
    Attestation.for_type(att.fmt)().verify(att.att_statement, att.auth_data, result.client_data.hash)
    return att.auth_data.credential_data


def registration_json(result):
    return {
        "credentialId": b64(result.attestation_object.auth_data.credential_data.credential_id),
        "clientDataJSON": b64(result.client_data),
        # WebAuthn names its members; fido2 0.9 keeps the CTAP integer keys until asked.
        "attestationObject": b64(result.attestation_object.with_string_keys()),
        "challenge": b64(result.client_data.challenge),
        "fmt": result.attestation_object.fmt,
        "userVerified": result.attestation_object.auth_data.is_user_verified(),
    }


def assertion_json(response):
    out = {
        "credentialId": b64(response.credential_id),
        "clientDataJSON": b64(response.client_data),
        "authenticatorData": b64(response.authenticator_data),
        "signature": b64(response.signature),
        "challenge": b64(response.client_data.challenge),
        "userVerified": response.authenticator_data.is_user_verified(),
        "counter": response.authenticator_data.counter,
    }
    if response.user_handle:
        out["userHandle"] = b64(response.user_handle)
    return out


def login(client, cred, **kwargs):
    """One assertion, checked with fido2's signature verification against the registered key."""
    sel = client.get_assertion(
        get_options(allowCredentials=[{"type": "public-key", "id": cred.credential_id}]), **kwargs
    )
    response = sel.get_response(0)
    cred.public_key.verify(response.authenticator_data + response.client_data.hash, response.signature)
    return response


PERMS = ClientPin.PERMISSION.MAKE_CREDENTIAL | ClientPin.PERMISSION.GET_ASSERTION


def pin_token(ctap2, pin, proto=None):
    # fido2 0.9 asks for a token with permissions whenever the key supports them, and CTAP 2.1
    # requires permissions then (§6.5.5.7.2): always give them.
    return ClientPin(ctap2, proto).get_pin_token(pin, PERMS, RP["id"])


def ctap_error(f):
    try:
        f()
    except CtapError as e:
        return e.code.name if hasattr(e.code, "name") else str(e.code)
    except Exception as e:  # noqa: BLE001 - the name is the result
        cause = getattr(e, "cause", None)
        if isinstance(cause, CtapError):
            return cause.code.name
        return type(e).__name__
    return None


def scenario_info(dev):
    info = Ctap2(dev).info
    return {
        "versions": list(info.versions),
        "extensions": list(info.extensions),
        "aaguid": bytes(info.aaguid).hex(),
        "options": dict(info.options),
        "pinProtocols": list(info.pin_uv_protocols),
        "maxMsgSize": info.max_msg_size,
        "capabilities": dev.capabilities,
        "deviceVersion": list(dev.device_version),
        "ping": bytes(dev.ping(b"mitid" * 30)) == b"mitid" * 30,
    }


def scenario_register(dev):
    client = Fido2Client(dev, ORIGIN)
    reg = client.make_credential(
        create_options("anna", authenticatorSelection={"userVerification": "discouraged"})
    )
    cred = verify_registration(reg)
    first = login(client, cred)
    second = login(client, cred)
    return {
        "registration": registration_json(reg),
        "assertion": assertion_json(second),
        "countersIncrease": second.authenticator_data.counter > first.authenticator_data.counter,
    }


def scenario_pin(dev):
    ctap2 = Ctap2(dev)
    out = {"pinBefore": ctap2.info.options.get("clientPin")}
    ClientPin(ctap2).set_pin("1234")
    ctap2 = Ctap2(dev)
    out["pinAfter"] = ctap2.info.options.get("clientPin")
    out["retries"] = ClientPin(ctap2).get_pin_retries()[0]
    client = Fido2Client(dev, ORIGIN)
    reg = client.make_credential(
        create_options("bo", authenticatorSelection={"userVerification": "required"}), pin="1234"
    )
    cred = verify_registration(reg)
    out["registration"] = registration_json(reg)
    out["assertion"] = assertion_json(login(client, cred, pin="1234"))
    out["wrongPin"] = ctap_error(lambda: pin_token(ctap2, "0000"))
    out["retriesAfterWrong"] = ClientPin(ctap2).get_pin_retries()[0]
    # makeCredUvNotRqd: with a PIN set, only a discoverable credential insists on it (§6.1.2).
    out["noPinButRequired"] = ctap_error(
        lambda: ctap2.make_credential(
            sha256(b"x"), RP, user("c"), [{"type": "public-key", "alg": -7}], options={"rk": True}
        )
    )
    plain = ctap2.make_credential(sha256(b"y"), RP, user("d"), [{"type": "public-key", "alg": -7}])
    out["nonResidentWithoutPin"] = {
        "uvNotRqd": ctap2.info.options.get("makeCredUvNotRqd"),
        "userVerified": plain.auth_data.is_user_verified(),
    }
    # Both protocols give a working token; one right PIN resets the retry counter.
    tokens = {}
    for proto in (PinProtocolV1(), PinProtocolV2()):
        token = pin_token(ctap2, "1234", proto)
        cdh = sha256(b"client data for protocol %d" % proto.VERSION)
        att = ctap2.make_credential(
            cdh, RP, user("p%d" % proto.VERSION), [{"type": "public-key", "alg": -7}],
            pin_uv_param=proto.authenticate(token, cdh), pin_uv_protocol=proto.VERSION,
        )
        tokens[str(proto.VERSION)] = att.auth_data.is_user_verified()
    out["tokenProtocols"] = tokens
    out["retriesAfterRight"] = ClientPin(ctap2).get_pin_retries()[0]
    ClientPin(ctap2).change_pin("1234", "56789")
    out["oldPinAfterChange"] = ctap_error(lambda: pin_token(ctap2, "1234"))
    out["newPinWorks"] = len(pin_token(ctap2, "56789")) in (16, 32)
    return out


def scenario_resident(dev):
    client = Fido2Client(dev, ORIGIN)
    users = []
    for name in ("first", "second"):
        opts = create_options(
            name,
            authenticatorSelection={"requireResidentKey": True, "userVerification": "discouraged"},
        )
        users.append(opts["user"]["id"])
        verify_registration(client.make_credential(opts))
    sel = client.get_assertion(get_options())
    responses = [sel.get_response(i) for i in range(len(sel.get_assertions()))]
    raw = Ctap2(dev).get_assertions(RP["id"], sha256(b"direct"))
    return {
        "count": len(responses),
        "userHandlesMatch": sorted(bytes(r.user_handle) for r in responses) == sorted(users),
        "numberOfCredentials": raw[0].number_of_credentials,
        "nextAssertions": len(raw),
        "assertions": [assertion_json(r) for r in responses],
    }


def scenario_hmac(dev):
    client = Fido2Client(dev, ORIGIN)
    reg = client.make_credential(
        create_options(
            "hmac",
            authenticatorSelection={"userVerification": "discouraged"},
            extensions={"hmacCreateSecret": True},
        )
    )
    cred = verify_registration(reg)
    salt1, salt2 = os.urandom(32), os.urandom(32)

    def secret(salts):
        sel = client.get_assertion(
            get_options(
                allowCredentials=[{"type": "public-key", "id": cred.credential_id}],
                extensions={"hmacGetSecret": salts},
            )
        )
        return sel.get_response(0).extension_results["hmacGetSecret"]

    a = secret({"salt1": salt1})
    b = secret({"salt1": salt1, "salt2": salt2})
    return {
        "created": reg.extension_results.get("hmacCreateSecret"),
        "outputLength": len(a["output1"]),
        "stable": a["output1"] == b["output1"],
        "saltsDiffer": b["output1"] != b["output2"],
    }


def u2f_call(f):
    # U2F has no keepalive: the client polls while the key says "touch me" (0x6985).
    for _ in range(50):
        try:
            return f()
        except ApduError as e:
            if e.code != APDU.USE_NOT_SATISFIED:
                raise
            time.sleep(0.1)
    raise RuntimeError("no touch")


def scenario_u2f(dev):
    ctap1 = Ctap1(dev)
    version = ctap1.get_version()
    app = sha256(b"https://u2f.mitid.example")
    chal = sha256(b"u2f challenge")
    reg = u2f_call(lambda: ctap1.register(chal, app))
    reg.verify(app, chal)
    s1 = u2f_call(lambda: ctap1.authenticate(chal, app, reg.key_handle))
    s1.verify(app, chal, reg.public_key)
    s2 = u2f_call(lambda: ctap1.authenticate(chal, app, reg.key_handle))
    s2.verify(app, chal, reg.public_key)
    wrong_app = None
    try:
        ctap1.authenticate(chal, sha256(b"other"), reg.key_handle, check_only=True)
    except ApduError as e:
        wrong_app = e.code
    return {
        "version": version,
        "registered": True,
        "counterIncreases": s2.counter > s1.counter,
        "wrongAppStatus": wrong_app,
    }


# The local port every connection binds (0: any free one); set from the command line.
LOCAL_PORT = 0


def scenario_reset(dev, host, port):
    client = Fido2Client(dev, ORIGIN)
    reg = client.make_credential(
        create_options("gone", authenticatorSelection={"userVerification": "discouraged"})
    )
    cred = verify_registration(reg)
    ClientPin(Ctap2(dev)).set_pin("1234")
    # Reset needs a fresh power-up (CTAP 2.1 §6.6): the simulator convention's reboot datagram.
    dev.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(REBOOT, (host, port))
    s.close()
    time.sleep(0.2)
    dev = open_udp_device(host, port, LOCAL_PORT)
    Ctap2(dev).reset()
    ctap2 = Ctap2(dev)
    after = ctap_error(
        lambda: ctap2.get_assertion(
            RP["id"], sha256(b"x"), [{"type": "public-key", "id": cred.credential_id}]
        )
    )
    return {"pinAfterReset": ctap2.info.options.get("clientPin"), "oldCredential": after}


def main():
    global LOCAL_PORT
    host, port, scenario = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    LOCAL_PORT = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    dev = open_udp_device(host, port, LOCAL_PORT)
    try:
        if scenario == "reset":
            result = scenario_reset(dev, host, port)
        else:
            result = globals()["scenario_" + scenario](dev)
        result["ok"] = True
    except Exception as e:  # noqa: BLE001 - reported to the test
        result = {"ok": False, "error": "%s: %s" % (type(e).__name__, e), "trace": traceback.format_exc()}
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
