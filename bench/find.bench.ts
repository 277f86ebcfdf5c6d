// Metadata search (`floodgate gateway find`): the time of one page (up to 1000 objects) for
// representative filters on an index of 100 k and of 1 M objects, sqlite and PostgreSQL, beside a
// plain listing page (scan) on the same index. The index is seeded directly, in batches (object
// rows and their object_meta rows), bounded in rows and time per index kind. The 1M/100k column is the point: an indexed filter's page costs about the same at 10×
// the objects; only filters that match almost nothing after reading much would grow.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import type { FindQuery } from '../proxy/placement/find.ts';
import { openPostgresIndex } from '../proxy/placement/postgres.ts';
import { startPostgres } from '../proxy/placement/postgres.fixture.ts';
import { OBJECT_COLUMNS, objectParams } from '../proxy/placement/rows.ts';
import { openSqliteIndex } from '../proxy/placement/sqlite.ts';
import type { PlacedObject, PlacementIndex } from '../proxy/placement/types.ts';
import { percentile, printTable } from './table.ts';

const SIZES = (process.env.FIND_BENCH_SIZES ?? '100000,1000000').split(',').map(Number);
/** Per index kind: seeding stops there and the table says how far it got. */
const SEED_MS = Number(process.env.FIND_BENCH_SEED_MINUTES ?? 12) * 60_000;
const RUNS = 5;
const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;

/** Deterministic records: the same data for both index kinds. */
function record(i: number): PlacedObject {
  let x = (i + 1) * 2654435761 >>> 0;
  const r = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 32; };
  const tenant = Math.floor(r() * 100);
  const day = Math.floor(r() * 60);
  const userMeta: Record<string, string> = { team: ['red', 'blue', 'green', 'black'][Math.floor(r() * 4)]! };
  if (r() < 0.5) userMeta.env = 'prod';
  if (r() < 0.001) userMeta.audit = 'hold';
  const t = r();
  const contentType = t < 0.001 ? 'application/x-rare' : t < 0.4 ? 'image/jpeg' : t < 0.6 ? 'image/png' : t < 0.9 ? 'application/json' : 'text/plain';
  return {
    bucket: 'vb', key: `tenant-${String(tenant).padStart(3, '0')}/2026/${String(day).padStart(2, '0')}/obj-${i.toString(36).padStart(6, '0')}`,
    backend: `b${Math.floor(r() * 4)}`, size: Math.floor(r() ** 4 * 100 * 2 ** 20), etag: `e${i}`,
    lastModified: new Date(T0 + day * DAY + Math.floor(r() * DAY)), checksums: {}, userMeta, contentType,
  };
}

const Q = (f: Partial<FindQuery>): Omit<FindQuery, 'limit' | 'after'> => ({ bucket: 'vb', prefix: '', meta: [], ...f });
const QUERIES: [string, Omit<FindQuery, 'limit' | 'after'> | 'scan'][] = [
  ['scan: a listing page (baseline)', 'scan'],
  ['prefix (1 % of keys)', Q({ prefix: 'tenant-042/' })],
  ['size ≥ 90 MiB (~1 %)', Q({ minSize: 90 * 2 ** 20 })],
  ['size ≥ 1 byte (~all)', Q({ minSize: 1 })],
  ['content type, rare (0.1 %)', Q({ contentType: 'application/x-rare' })],
  ['content type image/* (60 %)', Q({ contentType: 'image/*' })],
  ['meta audit=hold (0.1 %)', Q({ meta: [{ name: 'audit', value: 'hold' }] })],
  ['meta team=red (25 %)', Q({ meta: [{ name: 'team', value: 'red' }] })],
  ['backend b2 (25 %)', Q({ backend: 'b2' })],
  ['modified one day (1.7 %)', Q({ modifiedSince: new Date(T0 + 30 * DAY), modifiedBefore: new Date(T0 + 31 * DAY) })],
  ['prefix + image/* + team=red', Q({ prefix: 'tenant-042/', contentType: 'image/*', meta: [{ name: 'team', value: 'red' }] })],
  ['size > every object (none)', Q({ minSize: 2 ** 40 })],
  ['replicas ≤ 1 (all, today)', Q({ maxReplicas: 1 })],
];

interface Kind {
  name: string;
  /** Adds records [from, to) straight into the index's tables. */
  seed(from: number, to: number, deadline: number): Promise<number>;
  /** After seeding: what the index kind's own maintenance would have done by then. */
  settle(): Promise<void>;
  index(): PlacementIndex;
  close(): Promise<void>;
}

async function sqliteKind(dir: string): Promise<Kind> {
  const path = join(dir, 'index.db');
  await openSqliteIndex(path).close();
  let ix: PlacementIndex | undefined;
  return {
    name: 'sqlite',
    async seed(from, to, deadline) {
      await ix?.close();
      ix = undefined;
      const db = new DatabaseSync(path);
      db.exec('PRAGMA journal_mode = WAL');
      // Seeding only: the index under test is reopened as the gateway opens it.
      db.exec('PRAGMA synchronous = OFF');
      // The rows the triggers would write, written directly (the triggers cost more than the
      // rows on a small machine); reopening the index puts the triggers back.
      for (const t of ['insert', 'update', 'delete']) db.exec(`DROP TRIGGER IF EXISTS objects_meta_${t}`);
      const insert = db.prepare(`INSERT INTO objects (${OBJECT_COLUMNS.join(', ')}) VALUES (${OBJECT_COLUMNS.map(() => '?').join(', ')})`);
      const meta = db.prepare('INSERT INTO object_meta (bucket, key, name, value) VALUES (?, ?, ?, ?)');
      let i = from;
      for (; i < to && Date.now() < deadline; ) {
        db.exec('BEGIN');
        for (const end = Math.min(to, i + 20_000); i < end; i++) {
          const r = record(i);
          insert.run(...(objectParams(r) as never[]));
          for (const [name, value] of Object.entries(r.userMeta)) meta.run(r.bucket, r.key, name, value);
        }
        db.exec('COMMIT');
      }
      db.close();
      return i;
    },
    async settle() {},
    index: () => (ix ??= openSqliteIndex(path)),
    async close() { await ix?.close(); },
  };
}

/** PostgreSQL types of OBJECT_COLUMNS, for the arrays unnest() takes apart. */
const PG_TYPES: Record<(typeof OBJECT_COLUMNS)[number], string> = {
  bucket: 'text', key: 'text', backend: 'text', size: 'bigint', etag: 'text', last_modified: 'bigint', content_type: 'text',
  cache_control: 'text', content_disposition: 'text', content_encoding: 'text', content_language: 'text', expires: 'text',
  user_meta: 'text', checksums: 'text', checksum_type: 'text', parts_count: 'integer', location: 'text', copies: 'text',
};
/** The secondary indexes the schema keeps on objects (find-schema.ts), dropped while seeding. */
const PG_FIND_INDEXES = ['objects_find_type', 'objects_find_backend', 'objects_find_size', 'objects_find_modified', 'object_meta_by_object'];

async function postgresKind(url: string): Promise<Kind> {
  const schema = 'bench_find';
  let ix: PlacementIndex | undefined = await openPostgresIndex(url, { schema });
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  await c.connect();
  // Like sqlite's seeding: the rows the trigger would write are written directly, column-wise
  // (one array per column, unnest()), 20 k rows a statement, with the secondary indexes dropped
  // and built once afterwards — row-wise VALUES with the trigger and every index kept up took
  // longer than the seed bound at ~600 k rows on this machine. Reopening the index (settle)
  // puts the trigger and the indexes back.
  const insertObjects = `INSERT INTO ${schema}.objects (${OBJECT_COLUMNS.join(', ')}) SELECT * FROM unnest(${OBJECT_COLUMNS.map((col, k) => `$${k + 1}::${PG_TYPES[col]}[]`).join(', ')})`;
  const insertMeta = `INSERT INTO ${schema}.object_meta (bucket, key, name, value) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])`;
  return {
    name: 'postgres',
    async seed(from, to, deadline) {
      await ix?.close();
      ix = undefined;
      await c.query(`DROP TRIGGER IF EXISTS objects_meta_sync ON ${schema}.objects`);
      for (const name of PG_FIND_INDEXES) await c.query(`DROP INDEX IF EXISTS ${schema}.${name}`);
      await c.query('SET synchronous_commit = off');
      const rows = 20_000;
      let i = from;
      for (; i < to && Date.now() < deadline; ) {
        const end = Math.min(to, i + rows);
        const cols: unknown[][] = OBJECT_COLUMNS.map(() => []);
        const meta: string[][] = [[], [], [], []];
        for (; i < end; i++) {
          const r = record(i);
          objectParams(r).forEach((v, k) => cols[k]!.push(v));
          for (const [name, value] of Object.entries(r.userMeta)) [r.bucket, r.key, name, value].forEach((v, k) => meta[k]!.push(v));
        }
        await c.query('BEGIN');
        await c.query(insertObjects, cols);
        await c.query(insertMeta, meta);
        await c.query('COMMIT');
      }
      return i;
    },
    // Reopening builds the dropped indexes and the trigger; autovacuum analyzes a table that grew
    // this much, done here so the timing does not depend on when it runs.
    async settle() {
      ix = await openPostgresIndex(url, { schema });
      await c.query(`ANALYZE ${schema}.objects, ${schema}.object_meta`);
    },
    index: () => ix!,
    async close() { await c.end(); await ix?.close(); },
  };
}

async function timePage(ix: PlacementIndex, q: Omit<FindQuery, 'limit' | 'after'> | 'scan'): Promise<{ ms: number; rows: number }> {
  const samples: number[] = [];
  let rows = 0;
  for (let run = 0; run < RUNS; run++) {
    const t = performance.now();
    rows = q === 'scan' ? (await ix.scan('vb', { prefix: '', after: '', limit: 1000 })).length : (await ix.find({ ...q, after: '', limit: 1000 })).length;
    samples.push(performance.now() - t);
  }
  return { ms: percentile(samples, 50), rows };
}

export async function bench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-bench-find-'));
  const server = await startPostgres();
  const only = process.env.FIND_BENCH_KINDS?.split(',');
  const kinds = [
    ...(!only || only.includes('sqlite') ? [await sqliteKind(dir)] : []),
    ...(!only || only.includes('postgres') ? [await postgresKind(server.url)] : []),
  ];
  const results = new Map<string, Record<string, number | string>>(QUERIES.map(([name]) => [name, { filter: name }]));
  try {
    for (const kind of kinds) {
      const deadline = Date.now() + SEED_MS;
      let have = 0;
      for (const n of SIZES) {
        const t = performance.now();
        have = await kind.seed(have, n, deadline);
        await kind.settle();
        const label = have >= 1_000_000 ? `${have / 1_000_000}M` : `${Math.round(have / 1000)}k`;
        process.stdout.write(`${kind.name}: ${have} objects seeded (${((performance.now() - t) / 1000).toFixed(0)} s)\n`);
        for (const [name, q] of QUERIES) {
          const { ms, rows } = await timePage(kind.index(), q);
          const row = results.get(name)!;
          row[`${kind.name} ${label} ms`] = ms;
          row.rows = rows;
          process.stdout.write(`  ${kind.name} ${label}: ${name}: ${ms.toFixed(1)} ms, ${rows} objects\n`);
        }
        if (have < n) {
          process.stdout.write(`${kind.name}: seeding stopped at ${have} objects (time bound)\n`);
          break;
        }
      }
    }
  } finally {
    for (const k of kinds) await k.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = [...results.values()].map((r) => {
    const out: Record<string, number | string> = { ...r };
    for (const k of ['sqlite', 'postgres']) {
      const cols = Object.keys(r).filter((c) => c.startsWith(`${k} `));
      if (cols.length === 2) out[`${k} ratio`] = (r[cols[1]!] as number) / (r[cols[0]!] as number);
    }
    return out;
  });
  printTable(`find: median ms of one page (≤ 1000 objects, ${RUNS} runs) by filter and index size; rows: the page's objects on the last index measured; ratio = larger index / smaller`, rows);
}
