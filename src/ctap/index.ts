/** src/ctap: CTAP status codes, the CTAP2 canonical CBOR codec and CTAPHID framing (both sides). */
export * from './status.js';
export * from './cbor.js';
export * from './ctaphid.js';
