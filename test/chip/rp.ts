/** A relying party for tests: @simplewebauthn/server verifies what our chip produced. */
import {
  SettingsService,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type WebAuthnCredential,
} from '@simplewebauthn/server';
import type { WebAuthnBindResponse, WebAuthnProof } from '../../src/core/authenticator.js';
import { toBase64Url } from '../../src/core/bytes.js';

/** What a verified registration tells the RP (the parts the tests use). */
export interface RegistrationInfo {
  readonly fmt: string;
  readonly aaguid: string;
  readonly credential: WebAuthnCredential;
  readonly userVerified: boolean;
}

/** What a verified assertion tells the RP. */
export interface AuthenticationInfo {
  readonly newCounter: number;
  readonly userVerified: boolean;
}

/** Adds `caDer` to the roots trusted for packed attestation (each virtual chip has its own test CA). */
export function trustChipCa(caDer: Uint8Array): void {
  const known = SettingsService.getRootCertificates({ identifier: 'packed' });
  SettingsService.setRootCertificates({
    identifier: 'packed',
    certificates: [...known, new Uint8Array(caDer)],
  });
}

/** Verifies a registration the way a WebAuthn server does; throws when it is not valid. */
export async function verifyBind(
  r: WebAuthnBindResponse,
  expected: {
    challenge: Uint8Array;
    origin: string;
    rpId: string;
    requireUserVerification?: boolean;
  },
): Promise<RegistrationInfo> {
  const id = toBase64Url(r.credentialId);
  const v = await verifyRegistrationResponse({
    response: {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON: toBase64Url(r.clientDataJSON),
        attestationObject: toBase64Url(r.attestationObject),
        transports: [...r.transports] as 'usb'[],
      },
      clientExtensionResults: {},
    },
    expectedChallenge: toBase64Url(expected.challenge),
    expectedOrigin: expected.origin,
    expectedRPID: expected.rpId,
    requireUserVerification: expected.requireUserVerification ?? false,
  });
  if (!v.verified) throw new Error('registration did not verify');
  const { fmt, aaguid, credential, userVerified } = v.registrationInfo;
  return { fmt, aaguid, credential, userVerified };
}

/** Verifies an assertion against a stored credential; throws when it is not valid. */
export async function verifyProof(
  p: WebAuthnProof,
  credential: WebAuthnCredential,
  expected: {
    challenge: Uint8Array;
    origin: string;
    rpId: string;
    requireUserVerification?: boolean;
  },
): Promise<AuthenticationInfo> {
  const id = toBase64Url(p.credentialId);
  const v = await verifyAuthenticationResponse({
    response: {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON: toBase64Url(p.clientDataJSON),
        authenticatorData: toBase64Url(p.authenticatorData),
        signature: toBase64Url(p.signature),
        ...(p.userHandle ? { userHandle: toBase64Url(p.userHandle) } : {}),
      },
      clientExtensionResults: {},
    },
    expectedChallenge: toBase64Url(expected.challenge),
    expectedOrigin: expected.origin,
    expectedRPID: expected.rpId,
    credential,
    requireUserVerification: expected.requireUserVerification ?? false,
  });
  if (!v.verified) throw new Error('assertion did not verify');
  const { newCounter, userVerified } = v.authenticationInfo;
  return { newCounter, userVerified };
}
