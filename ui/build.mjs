// Builds the web UI into one folder of static files: app.js and app.css (bundled and minified by
// esbuild from src/main.ts and the CSS it imports), promjson.js (the Web Worker that parses range
// query answers, src/workers/promjson.ts) and index.html pointing at them with a content hash, so
// a browser never runs a stale bundle after an upgrade (the app asks for the worker with the same
// hash).
//
//   node build.mjs                 # -> ui/dist
//   node build.mjs --outdir DIR    # what crates/ui's build script runs
//   node build.mjs --watch         # rebuild on change (serve it with PHAROS_UI_DIR=ui/dist)
import * as esbuild from 'esbuild';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outIdx = args.indexOf('--outdir');
const outdir = path.resolve(outIdx >= 0 ? args[outIdx + 1] : path.join(here, 'dist'));
const watch = args.includes('--watch');

const options = {
  entryPoints: [path.join(here, 'src/main.ts')],
  bundle: true,
  minify: !watch,
  sourcemap: watch ? 'inline' : false,
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  outfile: path.join(outdir, 'app.js'),
  loader: { '.svg': 'text' },
  logLevel: 'warning',
  legalComments: 'none',
};

/** The worker: a classic script of its own (no imports at run time). */
const workerOptions = {
  ...options,
  entryPoints: [path.join(here, 'src/workers/promjson.ts')],
  format: 'iife',
  outfile: path.join(outdir, 'promjson.js'),
};

function writeIndex() {
  const hash = crypto.createHash('sha256');
  for (const f of ['app.js', 'app.css', 'promjson.js']) {
    const p = path.join(outdir, f);
    if (fs.existsSync(p)) hash.update(fs.readFileSync(p));
  }
  const v = hash.digest('hex').slice(0, 12);
  const html = fs.readFileSync(path.join(here, 'index.html'), 'utf8').replaceAll('__VERSION__', v);
  fs.writeFileSync(path.join(outdir, 'index.html'), html);
}

fs.mkdirSync(outdir, { recursive: true });
if (watch) {
  const ctx = await esbuild.context({
    ...options,
    plugins: [{ name: 'index', setup: (b) => b.onEnd(() => writeIndex()) }],
  });
  const workerCtx = await esbuild.context({
    ...workerOptions,
    plugins: [{ name: 'index', setup: (b) => b.onEnd(() => writeIndex()) }],
  });
  await Promise.all([ctx.watch(), workerCtx.watch()]);
  console.log(`watching; output in ${outdir}`);
} else {
  await Promise.all([esbuild.build(options), esbuild.build(workerOptions)]);
  writeIndex();
}
