"""A python-fido2 CtapHidDevice that reaches a HID device over UDP (the SoloKeys simulator
convention: one datagram per 64-byte report), so fido2 drives our chip as an independent client."""

import socket

from fido2.hid import CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor


class UdpConnection(CtapHidConnection):
    """Moves whole reports as datagrams between a local port and the device's port."""

    def __init__(self, host, port, local_port=0, timeout=10.0):
        self.remote = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", local_port))
        self.sock.settimeout(timeout)

    def write_packet(self, data):
        # fido2 hands over the report without the report ID byte on every backend but Windows.
        packet = bytes(data)
        if len(packet) == 65:
            packet = packet[1:]
        self.sock.sendto(packet.ljust(64, b"\0"), self.remote)

    def read_packet(self):
        while True:
            data, sender = self.sock.recvfrom(1024)
            if sender[1] == self.remote[1] and len(data) == 64:
                return data

    def close(self):
        self.sock.close()


def open_udp_device(host, port, local_port=0):
    """A CtapHidDevice (INIT done) for the UDP device at host:port."""
    descriptor = HidDescriptor("udp:%s:%d" % (host, port), 0x1209, 0x4D49, 64, 64)
    return CtapHidDevice(descriptor, UdpConnection(host, port, local_port))
