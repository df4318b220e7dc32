// Builds one TypeScript adapter (plugins/typescript/NAME) into a component:
//   node sdk/typescript/build.mjs plugins/typescript/NAME target/wasm32-wasip2/wasm/weft_ts_NAME.wasm
// 1. the WIT's TypeScript types (`jco types`), into target/ts/types, once per WIT change;
// 2. a type check of the adapter and the SDK against them (tsc, strict);
// 3. one ES module (esbuild), the `weft:adapter/*` imports left for the component's linker;
// 4. the component (componentize-js, StarlingMonkey pre-initialised), with no wasi:http
//    outgoing handler: an adapter reaches its platform through weft:adapter/http, which checks
//    allowed_hosts, and the host refuses a component that imports it. stdout and stderr stay:
//    console.log and an uncaught exception's stack go to the host's log.
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { _setPreopens } from '@bytecodealliance/preview2-shim/filesystem';
import { types } from '@bytecodealliance/jco';
import { componentize } from '@bytecodealliance/componentize-js';
import * as esbuild from 'esbuild';
import ts from 'typescript';

// jco's and componentize-js's tools read the WIT and write through this WASI shim, whose 0.26
// grants no directory by default.
_setPreopens({ '/': '/' });

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const [adapterDir, out] = process.argv.slice(2).map((p) => resolve(p));
if (!adapterDir || !out) {
  console.error('usage: node sdk/typescript/build.mjs plugins/typescript/NAME OUT.wasm');
  process.exit(2);
}
const wit = join(root, 'wit');
const typesDir = join(root, 'target/ts/types');

async function newest(dir) {
  let t = 0;
  for (const f of await readdir(dir)) t = Math.max(t, (await stat(join(dir, f))).mtimeMs);
  return t;
}

async function witTypes() {
  const made = await stat(join(typesDir, 'adapter-world.d.ts')).then((s) => s.mtimeMs, () => 0);
  if (made > (await newest(wit))) return;
  const files = await types(wit, { worldName: 'adapter-world', outDir: typesDir + '/' });
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(name), { recursive: true });
    await writeFile(name, text);
  }
}

function typecheck(entry) {
  const program = ts.createProgram([entry, join(here, 'src/runtime.d.ts')], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    lib: ['lib.es2022.d.ts'],
    types: [],
    baseUrl: root,
    paths: {
      'weft-sdk': [join(here, 'src/index.ts')],
      'weft:adapter/*@0.1.0': [join(typesDir, 'interfaces/weft-adapter-*.d.ts')],
    },
  });
  const problems = ts.getPreEmitDiagnostics(program);
  if (problems.length) {
    const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
    console.error(ts.formatDiagnosticsWithColorAndContext(problems, host));
    process.exit(1);
  }
}

await witTypes();
const entry = join(adapterDir, 'adapter.ts');
typecheck(entry);
const bundled = join(root, 'target/ts', relative(join(root, 'plugins'), adapterDir).replaceAll('/', '_') + '.js');
await esbuild.build({
  entryPoints: [entry],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  outfile: bundled,
  external: ['weft:*'],
  alias: { 'weft-sdk': join(here, 'src/index.ts') },
  logLevel: 'warning',
  // Names stay, so a trap's stack trace in the log names the adapter's functions.
  minify: false,
});
const { component } = await componentize({
  sourcePath: bundled,
  witPath: wit,
  worldName: 'adapter-world',
  disableFeatures: ['http'],
});
await mkdir(dirname(out), { recursive: true });
await writeFile(out, component);
console.log(`${relative(root, out)}: ${(component.length / 1048576).toFixed(1)} MiB`);
