// Copies the files the compiled code reads at run time (the web pages' script and style sheet)
// next to it in dist/, so the built package carries them.
import { cpSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const dir of ['src/activation/web/static']) {
  const from = join(root, dir);
  if (existsSync(from)) cpSync(from, join(root, 'dist', dir), { recursive: true });
}
