// A child process for crash tests: opens the virtual store from a config file and writes,
// overwrites and deletes keys from 8 workers (each owning its own keys, one op at a time),
// printing a JSON line when an op starts and when it is acknowledged, until killed or until the
// op budget runs out. Usage: node crash-writer.fixture.ts <config.yaml> <data-dir> <max-ops>
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { openVirtualStoreFromFile } from './index.ts';

const [configPath, dataDir, maxOpsArg] = process.argv.slice(2);
const maxOps = Number(maxOpsArg ?? 2000);
const store = await openVirtualStoreFromFile(configPath!, { dataDir });
const bucket = (await store.listBuckets())[0]!.name;
const deadline = Date.now() + 120_000;
let ops = 0;
const out = (rec: object) => process.stdout.write(JSON.stringify(rec) + '\n');
out({ ready: true, bucket });

async function worker(w: number): Promise<void> {
  for (let i = 0; ops < maxOps && Date.now() < deadline; i++) {
    ops++;
    const key = `w${w}/k${i % 7}`;
    const roll = (i * 7919 + w * 104729) % 10;
    if (roll < 8) {
      const body = randomBytes(1 + ((i * 977) % 65536));
      const etag = createHash('md5').update(body).digest('hex');
      out({ start: 'put', key, etag });
      await store.putObject(bucket, key, { body: Readable.from([body]), size: body.length, headers: { userMeta: { w: String(w) } }, checksums: {} });
      out({ ack: 'put', key, etag });
    } else {
      out({ start: 'delete', key });
      await store.deleteObject(bucket, key);
      out({ ack: 'delete', key });
    }
  }
}

await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w).catch((e: Error) => out({ error: e.message, worker: w }))));
await store.close();
out({ done: true, ops });
