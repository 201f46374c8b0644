#!/usr/bin/env python3
"""A physical code display test jig, played in software, written from docs/serial-protocol.md.

It stands in for a rig that presses a real token's button and reads its LCD: the "token" here is
an RFC 6238 TOTP computed with Python's own hmac module, and the "camera" reads it after a short
actuator delay. It shares no code with the TypeScript side, so the host driver is checked against
an independent reading of the protocol page.

Usage: jig.py TTY SERIAL SECRET_HEX [--press-ms N] [--ocr-fail-every N]
It prints "ready" on stdout once the tty is open, then serves until SIGTERM or SIGINT.
"""
import hashlib
import hmac
import os
import select
import signal
import struct
import sys
import termios
import time
import tty

MAX_LINE = 256  # section 2


def totp(secret, unix_ms, digits=6, period=30):
    """RFC 6238 section 4 over RFC 4226 section 5.3, SHA-1."""
    counter = (unix_ms // 1000) // period
    mac = hmac.new(secret, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % (10 ** digits)).zfill(digits)


class Jig:
    def __init__(self, fd, serial, secret, press_ms, ocr_fail_every):
        self.fd = fd
        self.serial = serial
        self.secret = secret
        self.press_ms = press_ms
        self.ocr_fail_every = ocr_fail_every
        self.presses = 0
        self.shown = None  # (code, read at ms) of the last press, as the camera saw it

    def send(self, line):
        os.write(self.fd, (line + "\n").encode("ascii"))

    def now_ms(self):
        return int(time.time() * 1000)

    def display(self, tag):
        if self.shown is None:
            return self.ok(tag, 'text="" on=0 low=0 time=%d' % self.now_ms())
        code, at = self.shown
        if self.now_ms() - at > 30000:  # the token blanks its LCD after a while
            return self.ok(tag, 'text="" on=0 low=0 time=%d' % self.now_ms())
        text = code[:3] + " " + code[3:]
        return self.ok(tag, 'code=%s text="%s" on=1 low=0 time=%d' % (code, text, at))

    def ok(self, tag, fields=""):
        return " ".join(p for p in (tag, "OK", fields) if p)

    def err(self, tag, code, message):
        return " ".join(p for p in (tag, "ERR", code, message) if p)

    def answer(self, raw):
        # Section 2: printable ASCII only, TAB counts as a space.
        if any(not (0x20 <= b <= 0x7E or b == 0x09) for b in raw):
            return self.err(None, "bad-bytes", "line has bytes outside printable ASCII")
        words = raw.decode("ascii").replace("\t", " ").split()
        if not words:
            return None  # blank lines are not answered
        tag = None
        if words[0].startswith("#"):
            tag = words.pop(0)
            body = tag[1:]
            if not (1 <= len(body) <= 16 and all(c.isalnum() and c.isascii() or c in "-_" for c in body)):
                return self.err(None, "bad-syntax", "malformed tag")
            if not words:
                return self.err(tag, "bad-syntax", "a tag needs a command")
        command, args = words[0].upper(), words[1:]
        if command == "ID" and not args:
            return self.ok(tag, "proto=1 kind=code-display serial=%s fw=jig-0.3 model=\"python jig\"" % self.serial)
        if command == "PING":
            return self.ok(tag, ("echo=" + args[0]) if args else "")
        if command == "HELP":
            return self.ok(tag, 'proto=1 commands="HELP ID PING PRESS READ STATUS TIME" max=256')
        if command == "PRESS" and len(args) <= 1:
            if args:
                if not args[0].isdigit():
                    return self.err(tag, "bad-argument", "this jig takes PRESS <unix ms>")
                wait_ms = int(args[0]) - self.now_ms()
                if wait_ms < -1000 or wait_ms > 60000:
                    return self.err(tag, "unsupported", "the jig presses now or up to 60 s ahead")
                if wait_ms > 0:
                    time.sleep(wait_ms / 1000.0)
            time.sleep(self.press_ms / 1000.0)  # the solenoid goes down and up
            self.presses += 1
            if self.ocr_fail_every and self.presses % self.ocr_fail_every == 0:
                return self.err(tag, "ocr-failed", "the camera could not read the display")
            at = self.now_ms()
            self.shown = (totp(self.secret, at), at)
            return self.display(tag)
        if command == "READ" and not args:
            return self.display(tag)
        if command == "STATUS" and not args:
            t = self.now_ms()
            iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 1000)) + ".%03dZ" % (t % 1000)
            return self.ok(tag, "time=%d iso=%s presses=%d low=0 jig-camera=ok" % (t, iso, self.presses))
        if command == "TIME":
            if args:
                return self.err(tag, "unsupported", "the token's clock cannot be set")
            return self.ok(tag, "time=%d" % self.now_ms())
        if command in ("ID", "PRESS", "READ", "STATUS"):
            return self.err(tag, "bad-argument", "%s takes no arguments" % command)
        return self.err(tag, "unknown-command", "unknown command; try HELP")

    def serve(self):
        self.send("* MITID-SERIAL 1 kind=code-display serial=%s ready" % self.serial)
        buf = bytearray()
        dropping = False
        while True:
            ready, _, _ = select.select([self.fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                return
            for b in chunk:
                if b == 0x0A:
                    if dropping:
                        reply = self.err(None, "too-long", "line exceeds 256 bytes")
                    else:
                        line = bytes(buf[:-1]) if buf.endswith(b"\r") else bytes(buf)
                        reply = self.err(None, "too-long", "line exceeds 256 bytes") if len(line) > MAX_LINE else self.answer(line)
                    buf.clear()
                    dropping = False
                    if reply is not None:
                        self.send(reply)
                elif dropping:
                    continue
                elif len(buf) > MAX_LINE:
                    dropping = True
                    buf.clear()
                else:
                    buf.append(b)


def main():
    args = sys.argv[1:]
    if len(args) < 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    path, serial, secret_hex = args[0], args[1], args[2]
    press_ms, ocr_fail_every = 200, 0
    rest = args[3:]
    while rest:
        opt = rest.pop(0)
        if opt == "--press-ms":
            press_ms = int(rest.pop(0))
        elif opt == "--ocr-fail-every":
            ocr_fail_every = int(rest.pop(0))
        else:
            sys.exit("unknown option " + opt)
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    # Configure the port as a jig configures its UART: raw, 8N1, 115200, no echo (section 1).
    tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[4] = attrs[5] = termios.B115200
    attrs[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    try:
        Jig(fd, serial, bytes.fromhex(secret_hex), press_ms, ocr_fail_every).serve()
    except KeyboardInterrupt:
        pass
    finally:
        os.close(fd)


if __name__ == "__main__":
    main()
