/**
 * Real FIDO keys through node-hid. node-hid is an optional native module: it is imported only
 * when a real key is asked for, and its absence (or of the libusb/hidraw it needs) is a clear
 * HidError 'hid-unavailable', never a crash at start-up.
 */
import { HidError } from './errors.js';
import { HID_REPORT_SIZE, type HidDescriptor, type HidTransport } from './port.js';
import { checkReport } from './queue.js';

/** The FIDO Alliance's HID usage page (CTAP 2.1 §11.2.8.1). */
export const FIDO_USAGE_PAGE = 0xf1d0;
/** The CTAPHID usage on that page. */
export const FIDO_USAGE_CTAPHID = 0x01;

/** What node-hid's `devices()` reports for one HID interface (the fields we use). */
export interface NodeHidDeviceInfo {
  vendorId: number;
  productId: number;
  path?: string;
  serialNumber?: string;
  manufacturer?: string;
  product?: string;
  usagePage?: number;
  usage?: number;
}

/** node-hid v3's asynchronous device handle (the methods we use). */
export interface NodeHidAsyncDevice {
  write(data: number[] | Buffer): Promise<number>;
  read(timeoutMs?: number): Promise<Buffer | undefined>;
  close(): Promise<void>;
}

/** The part of the node-hid module we use. */
export interface NodeHidModule {
  devicesAsync?(): Promise<NodeHidDeviceInfo[]>;
  devices(): NodeHidDeviceInfo[];
  HIDAsync: { open(path: string): Promise<NodeHidAsyncDevice> };
}

/** Loads node-hid; injectable so the missing-module path can be exercised. */
export type NodeHidLoader = () => Promise<NodeHidModule>;

const NODE_HID = 'node-hid';

/** The default loader: a dynamic import, so nothing native loads unless a real key is used. */
export const loadNodeHid: NodeHidLoader = async () => {
  let mod: unknown;
  try {
    // A variable specifier keeps bundlers and tsc from resolving the optional module statically.
    mod = await import(NODE_HID);
  } catch (e) {
    throw new HidError(
      'hid-unavailable',
      'real keys need the optional package node-hid (npm install node-hid) and hidraw/libusb; it is not installed',
      { cause: e },
    );
  }
  const m = ((mod as { default?: unknown }).default ?? mod) as Partial<NodeHidModule>;
  if (typeof m.devices !== 'function' || typeof m.HIDAsync?.open !== 'function') {
    throw new HidError(
      'hid-unavailable',
      'the installed node-hid is too old (need v3 with HIDAsync)',
    );
  }
  return m as NodeHidModule;
};

/** True for the FIDO CTAPHID interface of a device. */
function isFido(d: NodeHidDeviceInfo): boolean {
  return (
    d.usagePage === FIDO_USAGE_PAGE && (d.usage === undefined || d.usage === FIDO_USAGE_CTAPHID)
  );
}

function describe(d: NodeHidDeviceInfo): HidDescriptor {
  return {
    transport: 'hid',
    path: `hid:${d.path ?? ''}`,
    vendorId: d.vendorId,
    productId: d.productId,
    ...(d.product ? { product: d.product } : {}),
    ...(d.serialNumber ? { serialNumber: d.serialNumber } : {}),
  };
}

async function callNative<T>(what: string, f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new HidError('io', `${what}: ${msg}`, { cause: e });
  }
}

/** FIDO keys node-hid can see (usage page 0xF1D0). */
export async function listNodeHidDevices(
  loader: NodeHidLoader = loadNodeHid,
): Promise<HidDescriptor[]> {
  const hid = await loader();
  const all = await callNative('listing HID devices', () =>
    hid.devicesAsync ? hid.devicesAsync() : hid.devices(),
  );
  return all.filter((d) => isFido(d) && d.path).map(describe);
}

/** A HidTransport to a real key through node-hid. */
export class NodeHidTransport implements HidTransport {
  readonly descriptor: HidDescriptor;
  readonly #device: NodeHidAsyncDevice;
  #writing = false;
  #closed = false;
  #reading = false;

  private constructor(device: NodeHidAsyncDevice, descriptor: HidDescriptor) {
    this.#device = device;
    this.descriptor = descriptor;
  }

  /** Opens `hid:PATH` (or the first FIDO key when PATH is empty). */
  static async open(
    address: string,
    loader: NodeHidLoader = loadNodeHid,
  ): Promise<NodeHidTransport> {
    if (typeof address !== 'string' || !address.startsWith('hid:')) {
      throw new HidError('bad-address', `not a HID address (want hid:PATH): ${String(address)}`);
    }
    const hid = await loader();
    const want = address.slice(4);
    const keys = (
      await callNative('listing HID devices', () =>
        hid.devicesAsync ? hid.devicesAsync() : hid.devices(),
      )
    ).filter((d) => isFido(d) && d.path);
    const info = want === '' ? keys[0] : keys.find((d) => d.path === want);
    if (!info?.path) {
      throw new HidError(
        'not-found',
        want === '' ? 'no FIDO key is connected' : `no FIDO key at ${want}`,
      );
    }
    const path = info.path;
    const device = await callNative(`opening ${path}`, () => hid.HIDAsync.open(path));
    return new NodeHidTransport(device, describe(info));
  }

  write(report: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new HidError('closed', 'the HID transport is closed'));
    try {
      checkReport(report, HID_REPORT_SIZE, 'output report');
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.#writing) {
      return Promise.reject(
        new HidError('busy', 'a HID write is already in flight; await it first'),
      );
    }
    this.#writing = true;
    // hidapi wants the report ID first; FIDO keys have a single unnumbered report, ID 0.
    const data = [0, ...report];
    return callNative('writing to the key', () => this.#device.write(data)).then(
      () => {
        this.#writing = false;
      },
      (e: unknown) => {
        this.#writing = false;
        throw e;
      },
    );
  }

  async read(timeoutMs: number): Promise<Uint8Array> {
    if (this.#closed) throw new HidError('closed', 'the HID transport is closed');
    if (this.#reading) throw new HidError('busy', 'a HID read is already waiting; await it first');
    this.#reading = true;
    try {
      const got = await callNative('reading from the key', () => this.#device.read(timeoutMs));
      if (!got || got.length === 0)
        throw new HidError('timeout', `no HID report within ${timeoutMs} ms`);
      const r = new Uint8Array(HID_REPORT_SIZE);
      r.set(got.subarray(0, HID_REPORT_SIZE));
      return r;
    } finally {
      this.#reading = false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#device.close().catch(() => undefined);
  }
}
