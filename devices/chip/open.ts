/** The one place that decides real versus virtual: an address in, a Chip out. */
import { UsageError } from '../../src/core/errors.js';
import { NodeHidTransport, type NodeHidLoader } from '../../src/hid/node-hid.js';
import type { HidTransport } from '../../src/hid/port.js';
import { UdpHidTransport } from '../../src/hid/udp.js';
import { VirtualHidTransport } from '../../src/hid/virtual.js';
import { Chip, type ChipOptions } from './chip.js';
import { openChipFile, type PressMode, type VirtualChip } from './virtual.js';

/** How a chip address names its device. */
export type ChipAddressKind = 'udp' | 'hid' | 'file';

/** `udp:HOST:PORT` and `hid:PATH` are addresses; anything else is a device file path. */
export function chipAddressKind(target: string): ChipAddressKind {
  if (typeof target !== 'string' || target === '')
    throw new UsageError('usage', 'a chip address or device file is needed');
  if (target.startsWith('udp:')) return 'udp';
  if (target.startsWith('hid:')) return 'hid';
  return 'file';
}

/** Options of {@link openChip}. */
export interface OpenChipOptions extends Omit<ChipOptions, 'afterCommand' | 'onClose' | 'serial'> {
  /** UDP: local port answers arrive on (default 7112, the simulator convention; 0 picks one). */
  readonly localPort?: number;
  /** Device file: how its button behaves (default: what the file says, else auto). */
  readonly press?: PressMode;
  /** hid: how node-hid is loaded (tests). */
  readonly hidLoader?: NodeHidLoader;
}

/** A chip, and for a virtual one in this process its button and flash. */
export interface OpenedChip {
  readonly chip: Chip;
  /** Set for a device file opened in this process. */
  readonly virtual?: VirtualChip;
}

/**
 * Opens a chip from an address: `udp:HOST:PORT` (a simulator, ours or SoloKeys'), `hid:PATH`
 * (a real key via node-hid; `hid:` alone takes the first one) or a device file (the firmware
 * runs in this process over the in-process transport and its flash is saved back to the file
 * after every command that changed it).
 */
export async function openChipWith(
  target: string,
  options: OpenChipOptions = {},
): Promise<OpenedChip> {
  const kind = chipAddressKind(target);
  const { localPort, press, hidLoader, ...chipOptions } = options;
  if (kind === 'file') {
    const virtual = await openChipFile(target, press === undefined ? {} : { press });
    let transport: HidTransport;
    try {
      transport = new VirtualHidTransport(virtual.firmware, {
        path: target,
        serialNumber: virtual.serial,
      });
    } catch (e) {
      await virtual.close();
      throw e;
    }
    const chip = await Chip.fromTransport(transport, {
      ...chipOptions,
      serial: virtual.serial,
      afterCommand: () => virtual.save(),
      onClose: () => virtual.close(),
    });
    return { chip, virtual };
  }
  const transport =
    kind === 'udp'
      ? await UdpHidTransport.open(target, localPort === undefined ? {} : { localPort })
      : await NodeHidTransport.open(target, hidLoader);
  return { chip: await Chip.fromTransport(transport, chipOptions) };
}

/** {@link openChipWith}, for callers that need only the Authenticator. */
export async function openChip(target: string, options: OpenChipOptions = {}): Promise<Chip> {
  return (await openChipWith(target, options)).chip;
}
