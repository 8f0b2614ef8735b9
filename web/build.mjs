// Builds the playground and the console into an output directory (default
// dist/) and writes MANIFEST.sha256 of what it wrote. The output depends
// only on the sources and the pinned packages: no timestamps, no source
// maps with absolute paths, files in a fixed order; web/web_test.go
// rebuilds and compares byte for byte.
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] || join(here, 'dist'));
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await esbuild.build({
  absWorkingDir: here,
  entryPoints: { playground: 'src/playground.jsx' },
  outdir: out,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome109', 'firefox115', 'safari16'],
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'linked',
  charset: 'utf8',
  logLevel: 'warning',
});

// The console is small hand-written code: served as written.
for (const f of ['playground.html', 'console.html', 'console.js', 'console.css']) {
  cpSync(join(here, 'src', f), join(out, f));
}

const files = [];
(function walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else files.push(relative(out, p).split('\\').join('/'));
  }
})(out);
files.sort();
const manifest = files
  .map((f) => createHash('sha256').update(readFileSync(join(out, f))).digest('hex') + '  ' + f + '\n')
  .join('');
writeFileSync(join(out, 'MANIFEST.sha256'), manifest);
console.log(`built ${files.length} files into ${out}`);
