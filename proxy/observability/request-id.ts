// Request ids (x-amz-request-id): 8 random bytes as 16 upper-case hex digits, as before, but cut
// from a pool refilled 512 ids at a time — randomBytes(8) per request was one getrandom call and
// a Buffer each, about 2 % of a 4 KiB GET's CPU (docs/performance.md, small GETs).
import { randomFillSync } from 'node:crypto';

const ID_BYTES = 8;
const pool = Buffer.allocUnsafe(ID_BYTES * 512);
let offset = pool.length;

export function newRequestId(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('hex', offset, offset + ID_BYTES).toUpperCase();
  offset += ID_BYTES;
  return id;
}
