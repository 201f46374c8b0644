/** Finding HID devices: real FIDO keys (node-hid) and UDP simulators answering a CTAPHID_INIT. */
import { randomBytes } from 'node:crypto';
import { HidError } from './errors.js';
import { listNodeHidDevices, loadNodeHid, type NodeHidLoader } from './node-hid.js';
import { HID_REPORT_SIZE, type HidDescriptor, type HidTransport } from './port.js';
import { formatUdpAddress, parseUdpAddress, UDP_DEVICE_PORT, UdpHidTransport } from './udp.js';

/** CTAPHID broadcast channel and INIT command (CTAP 2.1 §11.2.9.1.3). */
const BROADCAST_CID = 0xffffffff;
const CTAPHID_INIT = 0x86;

/**
 * Sends one CTAPHID_INIT on the broadcast channel and waits for the answer with our nonce. This is
 * the smallest question every CTAPHID device must answer, so it tells a FIDO device from silence
 * without depending on the framing layer above.
 */
export async function probeCtapHid(transport: HidTransport, timeoutMs = 300): Promise<boolean> {
  const nonce = randomBytes(8);
  const init = new Uint8Array(HID_REPORT_SIZE);
  new DataView(init.buffer).setUint32(0, BROADCAST_CID);
  init[4] = CTAPHID_INIT;
  init[6] = nonce.length;
  init.set(nonce, 7);
  await transport.write(init);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    let r: Uint8Array;
    try {
      r = await transport.read(left);
    } catch (e) {
      if (e instanceof HidError && (e.code === 'timeout' || e.code === 'not-found')) return false;
      throw e;
    }
    const cid = new DataView(r.buffer, r.byteOffset).getUint32(0);
    if (
      cid === BROADCAST_CID &&
      r[4] === CTAPHID_INIT &&
      Buffer.from(r.subarray(7, 15)).equals(nonce)
    )
      return true;
  }
}

/** Options of {@link listHidDevices}. */
export interface ListHidOptions {
  /** UDP devices to probe; default `['udp:127.0.0.1:8111']`; [] probes none. */
  readonly udp?: readonly string[];
  /** Local port for UDP probes; default 7112, where the convention's devices answer. */
  readonly udpLocalPort?: number;
  /** Include real keys through node-hid; default true (skipped quietly when node-hid is absent). */
  readonly hid?: boolean;
  readonly timeoutMs?: number;
  /** For tests: how node-hid is loaded. */
  readonly loader?: NodeHidLoader;
}

/** What {@link listHidDevices} found, and why a source could not be searched. */
export interface HidListing {
  readonly devices: HidDescriptor[];
  /** One line per source that could not be searched (e.g. node-hid missing). */
  readonly notes: string[];
}

/**
 * Lists reachable FIDO HID devices: real keys via node-hid, and UDP devices that answer a
 * CTAPHID_INIT. Sources that are missing become notes, not errors.
 */
export async function listHidDevices(options: ListHidOptions = {}): Promise<HidListing> {
  const devices: HidDescriptor[] = [];
  const notes: string[] = [];
  if (options.hid !== false) {
    try {
      devices.push(...(await listNodeHidDevices(options.loader ?? loadNodeHid)));
    } catch (e) {
      if (!(e instanceof HidError)) throw e;
      notes.push(e.message);
    }
  }
  for (const address of options.udp ?? [`udp:127.0.0.1:${UDP_DEVICE_PORT}`]) {
    const parsed = parseUdpAddress(address);
    let transport: UdpHidTransport | undefined;
    try {
      transport = await UdpHidTransport.open(address, {
        ...(options.udpLocalPort === undefined ? {} : { localPort: options.udpLocalPort }),
      });
      if (await probeCtapHid(transport, options.timeoutMs ?? 300)) {
        devices.push({ ...transport.descriptor, path: formatUdpAddress(parsed) });
      }
    } catch (e) {
      if (!(e instanceof HidError)) throw e;
      notes.push(`${formatUdpAddress(parsed)}: ${e.message}`);
    } finally {
      await transport?.close();
    }
  }
  return { devices, notes };
}
