// CRC-64/NVME (reflected, poly 0xAD93D23594C93659, init and xorout all ones), slicing-by-8 on
// 32-bit halves. Our own because @aws-sdk/crc64-nvme only offers an async digest(), and a
// Transform's flush wants the value synchronously; crc64nvme.test.ts checks it against the SDK.
const REFLECTED_POLY = 0x9a6c9329ac4bc9b5n;

// TABLES_HI[k][b], TABLES_LO[k][b]: CRC of byte b followed by k zero bytes.
const TABLES_HI: Uint32Array[] = [];
const TABLES_LO: Uint32Array[] = [];
{
  const t0: bigint[] = [];
  for (let b = 0; b < 256; b++) {
    let crc = BigInt(b);
    for (let j = 0; j < 8; j++) crc = crc & 1n ? (crc >> 1n) ^ REFLECTED_POLY : crc >> 1n;
    t0.push(crc);
  }
  let prev = t0;
  for (let k = 0; k < 8; k++) {
    TABLES_HI.push(Uint32Array.from(prev, (v) => Number(v >> 32n)));
    TABLES_LO.push(Uint32Array.from(prev, (v) => Number(v & 0xffffffffn)));
    prev = prev.map((v) => (v >> 8n) ^ t0[Number(v & 0xffn)]!);
  }
}
const [H0, H1, H2, H3, H4, H5, H6, H7] = TABLES_HI as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
const [L0, L1, L2, L3, L4, L5, L6, L7] = TABLES_LO as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];

export class Crc64Nvme {
  #hi = 0xffffffff;
  #lo = 0xffffffff;

  update(data: Uint8Array): void {
    let hi = this.#hi, lo = this.#lo, i = 0;
    const n = data.length;
    for (; i + 8 <= n; i += 8) {
      const a = (lo ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
      const b = (hi ^ (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24))) >>> 0;
      hi = H7[a & 255]! ^ H6[(a >>> 8) & 255]! ^ H5[(a >>> 16) & 255]! ^ H4[a >>> 24]! ^
        H3[b & 255]! ^ H2[(b >>> 8) & 255]! ^ H1[(b >>> 16) & 255]! ^ H0[b >>> 24]!;
      lo = L7[a & 255]! ^ L6[(a >>> 8) & 255]! ^ L5[(a >>> 16) & 255]! ^ L4[a >>> 24]! ^
        L3[b & 255]! ^ L2[(b >>> 8) & 255]! ^ L1[(b >>> 16) & 255]! ^ L0[b >>> 24]!;
    }
    for (; i < n; i++) {
      const idx = (lo ^ data[i]!) & 255;
      lo = ((lo >>> 8) | (hi << 24)) ^ L0[idx]!;
      hi = (hi >>> 8) ^ H0[idx]!;
    }
    this.#hi = hi >>> 0;
    this.#lo = lo >>> 0;
  }

  /** Big-endian 8 bytes, as in x-amz-checksum-crc64nvme. */
  digest(): Buffer {
    const out = Buffer.allocUnsafe(8);
    out.writeUInt32BE((this.#hi ^ 0xffffffff) >>> 0, 0);
    out.writeUInt32BE((this.#lo ^ 0xffffffff) >>> 0, 4);
    return out;
  }
}
