// Runs the TypeScript SDK's unit tests under Node: each test file bundled by esbuild with the
// host's imports (`weft:adapter/*`) answered by test/no-host.ts, then `node --test`.
import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(here, '../../target/ts/test');
const tests = (await readdir(join(here, 'test'))).filter((f) => f.endsWith('.test.ts'));
const noHost = {
  name: 'no-host',
  setup(build) {
    build.onResolve({ filter: /^weft:/ }, () => ({ path: join(here, 'test/no-host.ts') }));
  },
};
await esbuild.build({
  entryPoints: tests.map((t) => join(here, 'test', t)),
  bundle: true,
  platform: 'node',
  format: 'esm',
  outdir: out,
  outExtension: { '.js': '.mjs' },
  plugins: [noHost],
  logLevel: 'warning',
});
const run = spawnSync(process.execPath, ['--test', ...tests.map((t) => join(out, t.replace(/\.ts$/, '.mjs')))], { stdio: 'inherit' });
process.exit(run.status ?? 1);
