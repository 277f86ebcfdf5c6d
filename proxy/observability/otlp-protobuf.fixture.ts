// A protobuf decoder for the OTLP trace messages the tests read, written from the field numbers
// of opentelemetry-proto (collector/trace/v1, trace/v1, common/v1, resource/v1): the wire format
// (varints, fixed 32/64, length-delimited) and, per message, the fields kept. Unknown fields are
// skipped, as protobuf readers do. Ids come out in hex, as in the JSON mapping.
import type { AnyValue, KeyValue, TraceRequest } from './otlp-receiver.fixture.ts';

type Field = { n: number; wire: number; int: bigint; bytes: Buffer };

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (at >= buf.length || shift > 63n) throw new Error('truncated varint');
      const b = buf[at++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  const take = (n: number): Buffer => {
    if (at + n > buf.length) throw new Error('truncated field');
    const b = buf.subarray(at, at + n);
    at += n;
    return b;
  };
  while (at < buf.length) {
    const tag = Number(varint());
    const n = tag >>> 3, wire = tag & 7;
    if (wire === 0) out.push({ n, wire, int: varint(), bytes: Buffer.alloc(0) });
    else if (wire === 1) { const b = take(8); out.push({ n, wire, int: b.readBigUInt64LE(), bytes: b }); }
    else if (wire === 2) out.push({ n, wire, int: 0n, bytes: take(Number(varint())) });
    else if (wire === 5) { const b = take(4); out.push({ n, wire, int: BigInt(b.readUInt32LE()), bytes: b }); }
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

const all = (fs: Field[], n: number) => fs.filter((f) => f.n === n);
const one = (fs: Field[], n: number) => fs.findLast((f) => f.n === n);
const str = (f: Field | undefined) => f?.bytes.toString('utf8') ?? '';

function anyValue(buf: Buffer): AnyValue {
  const fs = fields(buf);
  const f = fs.at(-1); // a oneof: the last one set wins
  if (!f) return {};
  switch (f.n) {
    case 1: return { stringValue: str(f) };
    case 2: return { boolValue: f.int !== 0n };
    case 3: return { intValue: String(BigInt.asIntN(64, f.int)) };
    case 4: return { doubleValue: f.bytes.readDoubleLE() };
    default: return {}; // arrays, kvlists, bytes: not sent by Floodgate
  }
}

const keyValues = (fs: Field[], n: number): KeyValue[] => all(fs, n).map((f) => {
  const kv = fields(f.bytes);
  const v = one(kv, 2);
  return { key: str(one(kv, 1)), value: v ? anyValue(v.bytes) : {} };
});

export function decodeTraceRequest(buf: Buffer): TraceRequest {
  return {
    resourceSpans: all(fields(buf), 1).map((rsField) => {
      const rs = fields(rsField.bytes);
      const resource = one(rs, 1);
      return {
        resource: { attributes: resource ? keyValues(fields(resource.bytes), 1) : [] },
        scopeSpans: all(rs, 2).map((ssField) => ({
          spans: all(fields(ssField.bytes), 2).map((spanField) => {
            const s = fields(spanField.bytes);
            return {
              traceId: one(s, 1)?.bytes.toString('hex') ?? '',
              spanId: one(s, 2)?.bytes.toString('hex') ?? '',
              parentSpanId: one(s, 4)?.bytes.toString('hex') || undefined,
              name: str(one(s, 5)),
              kind: Number(one(s, 6)?.int ?? 0n),
              attributes: keyValues(s, 9),
              events: all(s, 11).map((e) => {
                const ev = fields(e.bytes);
                return { name: str(one(ev, 2)), attributes: keyValues(ev, 3) };
              }),
            };
          }),
        })),
      };
    }),
  };
}
