// Installs the npm dependencies when they are missing or older than package-lock.json, so that
// `npm start` and `npm test` work as the first commands on a fresh clone.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const mtime = (p) => {
  try {
    return statSync(new URL(p, `file://${root}/`)).mtimeMs;
  } catch {
    return -1;
  }
};
const installed = mtime('node_modules/.package-lock.json');
if (installed < 0 || installed < mtime('package-lock.json')) {
  console.error('installing npm dependencies (npm ci) ...');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
