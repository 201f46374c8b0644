import { describe, expect, it } from 'vitest';
import { HidError } from '../../src/hid/errors.js';
import { listHidDevices } from '../../src/hid/list.js';
import {
  FIDO_USAGE_PAGE,
  listNodeHidDevices,
  loadNodeHid,
  NodeHidTransport,
  type NodeHidAsyncDevice,
  type NodeHidModule,
} from '../../src/hid/node-hid.js';
import { EchoFirmware, report } from './echo-firmware.js';

// node-hid is optional and not installed here; where it is, these first tests say so and stop.
let installed = false;
try {
  await import('node-hid' as string);
  installed = true;
} catch {
  installed = false;
}

describe('node-hid absent', () => {
  it.skipIf(installed)('loading it is a clear HidError hid-unavailable', async () => {
    const e = await loadNodeHid().then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(HidError);
    expect((e as HidError).code).toBe('hid-unavailable');
    expect((e as Error).message).toMatch(/node-hid/);
    expect((e as Error).message).not.toContain('\n');
  });

  it.skipIf(installed)('opening hid:PATH fails the same way', async () => {
    await expect(NodeHidTransport.open('hid:/dev/hidraw0')).rejects.toMatchObject({
      code: 'hid-unavailable',
    });
  });

  it('listing turns its absence into a note, not an error', async () => {
    const failing = () =>
      Promise.reject(new HidError('hid-unavailable', 'node-hid is not installed'));
    const listing = await listHidDevices({ udp: [], loader: failing });
    expect(listing.devices).toEqual([]);
    expect(listing.notes).toEqual(['node-hid is not installed']);
  });

  it('rejects an address that is not hid:', async () => {
    await expect(NodeHidTransport.open('udp:1')).rejects.toMatchObject({ code: 'bad-address' });
  });
});

/**
 * The adapter's own logic (usage-page filter, report ID byte, timeouts) against an object with
 * node-hid v3's shape that carries reports to an emulated device. It cannot stand in for hidapi
 * itself; that needs a real key (HW_TESTS=1).
 */
function hidLike(fw: EchoFirmware, written: number[][]): NodeHidModule {
  const out: Uint8Array[] = [];
  const device: NodeHidAsyncDevice = {
    write: (data) => {
      const bytes = Array.from(data as number[]);
      written.push(bytes);
      out.push(...fw.handleReport(Uint8Array.from(bytes.slice(1))));
      return Promise.resolve(bytes.length);
    },
    read: async (timeoutMs) => {
      const r = out.shift();
      if (r) return Buffer.from(r);
      await new Promise((res) => setTimeout(res, timeoutMs));
      return undefined;
    },
    close: () => Promise.resolve(),
  };
  return {
    devices: () => [
      {
        vendorId: 0x1050,
        productId: 0x0407,
        path: '/dev/hidraw1',
        usagePage: 0x01,
        usage: 6,
        product: 'keyboard',
      },
      {
        vendorId: 0x1050,
        productId: 0x0407,
        path: '/dev/hidraw2',
        usagePage: FIDO_USAGE_PAGE,
        usage: 1,
        product: 'Key',
      },
    ],
    HIDAsync: {
      open: (path) =>
        path === '/dev/hidraw2' ? Promise.resolve(device) : Promise.reject(new Error('no')),
    },
  };
}

describe('NodeHidTransport (adapter logic)', () => {
  it('lists only FIDO interfaces', async () => {
    const mod = hidLike(new EchoFirmware(), []);
    const list = await listNodeHidDevices(() => Promise.resolve(mod));
    expect(list).toEqual([
      {
        transport: 'hid',
        path: 'hid:/dev/hidraw2',
        vendorId: 0x1050,
        productId: 0x0407,
        product: 'Key',
      },
    ]);
  });

  it('prefixes report ID 0 on writes and reads whole reports', async () => {
    const written: number[][] = [];
    const mod = hidLike(new EchoFirmware(), written);
    const t = await NodeHidTransport.open('hid:', () => Promise.resolve(mod));
    expect(t.descriptor.path).toBe('hid:/dev/hidraw2');
    await t.write(report(3, { 63: 1 }));
    expect(written[0]!.length).toBe(65);
    expect(written[0]![0]).toBe(0);
    expect(written[0]![1]).toBe(3);
    const r = await t.read(500);
    expect([r.length, r[0], r[63]]).toEqual([64, 3, 2]);
    await expect(t.read(20)).rejects.toMatchObject({ code: 'timeout' });
    await expect(t.write(new Uint8Array(65))).rejects.toMatchObject({ code: 'bad-report' });
    await t.close();
    await expect(t.write(report(1))).rejects.toMatchObject({ code: 'closed' });
  });

  it('says not-found for a path that is not a FIDO key', async () => {
    const mod = hidLike(new EchoFirmware(), []);
    await expect(
      NodeHidTransport.open('hid:/dev/hidraw1', () => Promise.resolve(mod)),
    ).rejects.toMatchObject({
      code: 'not-found',
    });
  });
});
