/** Checks of the options and requests every virtual device module takes. */
import { type Clock, systemClock } from '../src/core/clock.js';
import { DeviceError } from '../src/core/errors.js';

/** The reference clock a device runs from: the host's by default, or any Clock. */
export function checkReference(reference: unknown): Clock {
  if (reference === undefined) return systemClock;
  if (
    typeof reference !== 'object' ||
    reference === null ||
    typeof (reference as Clock).now !== 'function'
  ) {
    throw new DeviceError('bad-option', 'reference must be a Clock');
  }
  return reference as Clock;
}

/** The `at` of a bind request or challenge (checked later), refusing anything but an object. */
export function checkRequest(request: unknown, name: string): number | undefined {
  if (request === undefined) return undefined;
  if (typeof request !== 'object' || request === null)
    throw new DeviceError('bad-request', `${name} must be an object`);
  return (request as { at?: number }).at;
}
