import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DatabaseSync } from 'node:sqlite';
import { createBatcher } from './batch.ts';
import { openSqliteIndex } from './sqlite.ts';

const dir = mkdtempSync(join(tmpdir(), 'floodgate-batch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function open(name: string, synchronous: 'FULL' | 'NORMAL'): DatabaseSync {
  const db = new DatabaseSync(join(dir, name));
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(`PRAGMA synchronous = ${synchronous}`);
  db.exec('CREATE TABLE t (v INTEGER)');
  return db;
}

/** The synchronous level the transaction running `fn` commits with (it is read at COMMIT). */
const level = (db: DatabaseSync) => Number((db.prepare('PRAGMA synchronous').get() as { synchronous: number }).synchronous);

test('batch: a transaction of only lazy writes commits with synchronous=NORMAL; one durable write among them makes it FULL', async () => {
  const db = open('levels.db', 'FULL');
  const batch = createBatcher(db);
  const write = (v: number) => () => { db.prepare('INSERT INTO t (v) VALUES (?)').run(v); return level(db); };
  try {
    assert.deepEqual(await Promise.all([batch(write(1), { lazy: true }), batch(write(2), { lazy: true })]), [1, 1]);
    assert.deepEqual(await Promise.all([batch(write(3), { lazy: true }), batch(write(4))]), [2, 2]);
    assert.equal(await batch(write(5), { lazy: true }), 1);
    assert.equal(await batch(write(6)), 2);
    assert.deepEqual(db.prepare('SELECT v FROM t ORDER BY v').all().map((r) => Number(r.v)), [1, 2, 3, 4, 5, 6]);
  } finally {
    db.close();
  }
});

test('batch: a connection opened with synchronous=NORMAL (the embedded store without fsync) stays at NORMAL for every write', async () => {
  const db = open('normal.db', 'NORMAL');
  const batch = createBatcher(db);
  try {
    assert.equal(await batch(() => level(db), { lazy: true }), 1);
    assert.equal(await batch(() => level(db)), 1);
  } finally {
    db.close();
  }
});

test('sqlite index: a lazy intent is in the database once beginIntent resolves — it survives kill -9 of the process', async () => {
  const path = join(dir, 'killed', 'index.db');
  const script = `
    import { openSqliteIndex } from ${JSON.stringify(join(import.meta.dirname, 'sqlite.ts'))};
    const ix = openSqliteIndex(${JSON.stringify(path)});
    const id = await ix.beginIntent({ owner: 'gw-1', bucket: 'vb', key: 'k', backend: 'b1', op: 'put' }, { lazy: true });
    process.stdout.write(JSON.stringify({ id }) + '\\n');
    setTimeout(() => {}, 60_000);`;
  const child = spawn(process.execPath, ['--input-type=module', '--eval', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
    });
    const { id } = JSON.parse(line) as { id: number };
    child.kill('SIGKILL');
    await exited;
    const ix = openSqliteIndex(path);
    try {
      assert.deepEqual((await ix.intents('gw-1')).map((i) => [i.id, i.key, i.op]), [[id, 'k', 'put']]);
    } finally {
      await ix.close();
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
