// `make bench`: every section measures ratios within one run and prints a table. Sections are
// modules exporting `bench(): Promise<void>`; `make bench ARGS="gateway balancing"` runs a subset.
import { readdirSync } from 'node:fs';

const dir = import.meta.dirname;
const available = readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).map((f) => f.slice(0, -'.bench.ts'.length)).sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !available.includes(w));
if (unknown.length) {
  process.stderr.write(`bench: unknown section(s) ${unknown.join(', ')}; available: ${available.join(', ')}\n`);
  process.exit(2);
}
for (const name of wanted.length ? wanted : available) {
  process.stdout.write(`\n== ${name} ==\n`);
  const mod = (await import(`./${name}.bench.ts`)) as { bench: () => Promise<void> };
  await mod.bench();
}
