"""Cross-checks our PIN/UV auth protocol code: python-fido2 plays the platform against a
given authenticator key and prints what it derived, so the TypeScript side can recompute it.

stdin: {"protocol": 1|2, "x": hex, "y": hex, "plaintext": hex, "message": hex, "token": hex}
stdout: {"platform_x", "platform_y", "shared", "ciphertext", "mac", "token_mac"} (hex)"""

import json
import sys

from fido2.ctap2.pin import PinProtocolV1, PinProtocolV2


def main():
    req = json.load(sys.stdin)
    proto = PinProtocolV1() if req["protocol"] == 1 else PinProtocolV2()
    peer = {1: 2, 3: -25, -1: 1, -2: bytes.fromhex(req["x"]), -3: bytes.fromhex(req["y"])}
    key_agreement, shared = proto.encapsulate(peer)
    plaintext = bytes.fromhex(req["plaintext"])
    message = bytes.fromhex(req["message"])
    token = bytes.fromhex(req["token"])
    out = {
        "platform_x": key_agreement[-2].hex(),
        "platform_y": key_agreement[-3].hex(),
        "shared": shared.hex(),
        "ciphertext": proto.encrypt(shared, plaintext).hex(),
        "mac": proto.authenticate(shared, message).hex(),
        "token_mac": proto.authenticate(token, message).hex(),
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
