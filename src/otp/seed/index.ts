/** Seed files: PSKC (RFC 6030) and OATH CSV, read and written all-or-nothing. */
export { SeedErrorCodes, type SeedErrorCode } from './errors.js';
export { importPskc, type PskcImportOptions } from './pskc-import.js';
export { exportPskc, DEFAULT_PBKDF2_ITERATIONS, type PskcExportOptions } from './pskc-export.js';
export { importOathCsv, exportOathCsv, OATH_CSV_HEADER, type OathCsvImportOptions } from './csv.js';
export {
  detectSeedFormat,
  importSeedFile,
  SeedFormats,
  type SeedFormat,
  type SeedImportOptions,
} from './detect.js';
export { PskcUris } from './crypto.js';
