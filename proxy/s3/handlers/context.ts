// What every S3 operation handler receives: the parsed request, who signed it, and the store.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthResult } from '../../auth/sigv4.ts';
import type { ObjectStore } from '../../store/types.ts';
import type { RequestFaults } from '../../../injector/faults/engine.ts';
import { S3Error } from '../errors.ts';
import type { Operation, Target } from '../route.ts';

export interface S3Context {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  target: Target;
  op: Operation;
  auth: AuthResult;
  store: ObjectStore;
  region: string;
  idleTimeoutMs: number;
  /** Set once a handler starts consuming the request body (errors then need no Connection: close). */
  bodyStarted: boolean;
  /** Redirect mode: where a GET/HEAD of an object goes instead (answered 307), or undefined to serve it. */
  redirect?: RedirectLookup;
  /** Faults the engine decided for this request, when any matched (body faults act on GetObject bodies). */
  faults?: RequestFaults;
}

export type RedirectLookup = (bucket: string, key: string, method: 'GET' | 'HEAD', query: [string, string][]) => Promise<URL | undefined>;

export type Handler = (ctx: S3Context) => Promise<void>;

export function bucketOf(ctx: S3Context): string {
  if (!ctx.target.bucket) throw new S3Error('InvalidBucketName');
  return ctx.target.bucket;
}

export function keyOf(ctx: S3Context): string {
  if (ctx.target.key === undefined) throw new S3Error('InvalidArgument', 'An object key is required.');
  return ctx.target.key;
}

/** Parses an integer query parameter within bounds, or the default when absent. */
export function intParam(value: string | undefined, name: string, def: number, min: number, max: number): number {
  if (value === undefined || value === '') return def;
  if (!/^-?\d+$/.test(value)) throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { details: { ArgumentName: name, ArgumentValue: value } });
  const n = Number(value);
  if (n < min) throw new S3Error('InvalidArgument', `Argument ${name} must be an integer between ${min} and ${max}`, { details: { ArgumentName: name, ArgumentValue: value } });
  return Math.min(n, max);
}

export const MAX_PART_NUMBER = 10000;

/** A part number exactly as S3 takes it: an integer 1–10000, never clamped (10001 is not part 10000). */
export function partNumberParam(value: string | undefined): number {
  if (value === undefined || !/^\d{1,6}$/.test(value) || Number(value) < 1 || Number(value) > MAX_PART_NUMBER) {
    throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`, { details: { ArgumentName: 'partNumber', ArgumentValue: value ?? '' } });
  }
  return Number(value);
}
