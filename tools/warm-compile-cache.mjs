// Fills Node's compile cache (NODE_COMPILE_CACHE) with every runtime module of the checkout, in a
// short process of its own, so that the long-lived gateway, injector or operator that
// ./bin/floodgate starts next finds every .ts file already stripped and never loads Node's
// TypeScript stripper (a WebAssembly build of swc whose ~15-20 MiB are never given back;
// docs/performance.md, "Cold start"). Plain JavaScript, so that this process is the only one that
// strips. Importing runs each module's top level only: the entry points guard their work with
// `import.meta.main`, and main.ts is loaded last with --version, which prints and exits. A module
// that fails to load is skipped (the server then strips it itself); nothing here fails a start.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '..');
// The runtime sources, as tools/image/floodgate.sh puts them in the image.
const skip = /(\.test\.ts|\.fixture\.ts|\.d\.ts)$|\/testing\//;
const files = ['version.ts'];
for (const dir of ['crds', 'injector', 'operator', 'proxy']) {
  for (const f of readdirSync(join(root, dir), { recursive: true })) {
    const path = `${dir}/${f}`;
    if (path.endsWith('.ts') && !skip.test(path)) files.push(path);
  }
}
for (const f of files) await import(pathToFileURL(join(root, f)).href).catch(() => {});
process.argv = [process.argv[0], join(root, 'main.ts'), '--version'];
await import(pathToFileURL(join(root, 'main.ts')).href);
