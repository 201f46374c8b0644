import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { HidError } from '../../src/hid/errors.js';
import { listHidDevices } from '../../src/hid/list.js';
import {
  formatUdpAddress,
  parseUdpAddress,
  serveHidOverUdp,
  UDP_DEVICE_PORT,
  UDP_HOST_PORT,
  UDP_REBOOT_DATAGRAM,
  UdpHidTransport,
} from '../../src/hid/udp.js';
import { EchoFirmware, report } from './echo-firmware.js';

describe('parseUdpAddress', () => {
  it.each([
    ['udp:127.0.0.1:8111', '127.0.0.1', 8111],
    ['udp:localhost:9000', '127.0.0.1', 9000],
    ['udp:8111', '127.0.0.1', 8111],
    ['udp:[::1]:8111', '::1', 8111],
    ['udp:sim.example:1', 'sim.example', 1],
  ])('%s', (text, host, port) => {
    const a = parseUdpAddress(text);
    expect(a).toEqual({ host, port });
    expect(parseUdpAddress(formatUdpAddress(a))).toEqual(a);
  });

  it.each([
    '8111',
    'udp:',
    'udp:host:',
    'udp:host:70000',
    'udp:host:-1',
    'udp:ho st:1',
    'udp:[::1]',
    'hid:/dev/x',
  ])('rejects %j with one line', (text) => {
    try {
      parseUdpAddress(text);
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(HidError);
      expect((e as HidError).code).toBe('bad-address');
      expect((e as Error).message).not.toContain('\n');
    }
  });

  it('follows the SoloKeys simulator convention', () => {
    expect(UDP_DEVICE_PORT).toBe(8111);
    expect(UDP_HOST_PORT).toBe(7112);
    expect(UDP_REBOOT_DATAGRAM.length).toBe(64);
  });
});

describe('HID over UDP', () => {
  async function pair(fw = new EchoFirmware()) {
    const server = await serveHidOverUdp(fw, { port: 0, hostPort: 'sender', tickMs: 10 });
    const host = await UdpHidTransport.open(formatUdpAddress(server.address), { localPort: 0 });
    return { fw, server, host };
  }

  it('moves one report per datagram both ways', async () => {
    const { fw, server, host } = await pair();
    expect(host.descriptor).toMatchObject({
      transport: 'udp',
      path: formatUdpAddress(server.address),
    });
    for (let i = 1; i <= 5; i++) {
      await host.write(report(i, { 63: i }));
      const r = await host.read(2000);
      expect([r[0], r[63]]).toEqual([i, i + 1]);
    }
    expect(fw.handled.length).toBe(5);
    await host.close();
    await server.close();
  });

  it('answers to the fixed host port by default (the simulator convention)', async () => {
    const fw = new EchoFirmware();
    // Bind the host side first on a free port, then tell the device to answer there.
    const probe = createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
    const hostPort = probe.address().port;
    probe.close();
    const server = await serveHidOverUdp(fw, { port: 0, hostPort });
    const host = await UdpHidTransport.open(`udp:127.0.0.1:${server.address.port}`, {
      localPort: hostPort,
    });
    expect(host.local.port).toBe(hostPort);
    await host.write(report(9));
    expect((await host.read(2000))[0]).toBe(9);
    await host.close();
    await server.close();
  });

  it('ignores datagrams that are not 64 bytes, and reboots on the magic datagram', async () => {
    const { fw, server, host } = await pair();
    const raw = createSocket('udp4');
    await new Promise<void>((r) =>
      raw.send(new Uint8Array(10), server.address.port, '127.0.0.1', () => r()),
    );
    await new Promise<void>((r) =>
      raw.send(UDP_REBOOT_DATAGRAM, server.address.port, '127.0.0.1', () => r()),
    );
    raw.close();
    await host.reboot();
    // A round trip after both makes sure the device has seen them (UDP keeps order on loopback).
    await host.write(report(1));
    await host.read(2000);
    expect(server.malformed).toBe(1);
    expect(server.reboots).toBe(2);
    expect(fw.powerCycles).toBe(2);
    expect(fw.handled.length).toBe(1);
    await host.close();
    await server.close();
  });

  it('ticks a busy device and sends what the ticks produce', async () => {
    const { server, host } = await pair();
    await host.write(report(0, { 5: 0xbb }));
    const got = [await host.read(2000), await host.read(2000), await host.read(2000)].map(
      (r) => r[6],
    );
    expect(got).toEqual([1, 2, 3]);
    await host.close();
    await server.close();
  });

  it('checks reports and overlapping writes like the other transports', async () => {
    const { server, host } = await pair();
    await expect(host.write(new Uint8Array(12))).rejects.toMatchObject({ code: 'bad-report' });
    const first = host.write(report(1));
    await expect(host.write(report(2))).rejects.toMatchObject({ code: 'busy' });
    await first;
    await host.close();
    await expect(host.read(10)).rejects.toMatchObject({ code: 'closed' });
    await server.close();
  });

  it('says address-in-use when the device port is taken', async () => {
    const { server, host } = await pair();
    await expect(
      serveHidOverUdp(new EchoFirmware(), { port: server.address.port }),
    ).rejects.toMatchObject({
      code: 'address-in-use',
    });
    await expect(
      UdpHidTransport.open(`udp:${server.address.port}`, { localPort: host.local.port }),
    ).rejects.toMatchObject({
      code: 'address-in-use',
    });
    await host.close();
    await server.close();
  });

  it('gives a HidError, not a hang or crash, when nothing listens', async () => {
    const { server, host } = await pair();
    const port = server.address.port;
    await host.close();
    await server.close();
    const lonely = await UdpHidTransport.open(`udp:127.0.0.1:${port}`, { localPort: 0 });
    await lonely.write(report(1)).catch(() => undefined);
    const e = await lonely.read(300).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(HidError);
    expect(['not-found', 'timeout']).toContain((e as HidError).code);
    await lonely.close();
  });

  it('lists a UDP device that answers CTAPHID_INIT and leaves out a silent one', async () => {
    const { server, host } = await pair();
    await host.close();
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    const listing = await listHidDevices({
      hid: false,
      udp: [formatUdpAddress(server.address), `udp:127.0.0.1:${silent.address().port}`],
      udpLocalPort: 0,
      timeoutMs: 300,
    });
    expect(listing.devices.map((d) => d.path)).toEqual([formatUdpAddress(server.address)]);
    expect(listing.devices[0]!.transport).toBe('udp');
    silent.close();
    await server.close();
  });
});
