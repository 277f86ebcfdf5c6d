// Test helpers for the embedded store's file handles: how many this process holds under a
// directory (read off /proc/self/fd), and a bounded wait for a condition that settles on its own.
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** File descriptors of this process open on files under `dir`. */
export function openFdsUnder(dir: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(join('/proc/self/fd', fd)).startsWith(dir);
    } catch {
      return false; // closed since the listing
    }
  }).length;
}

/** Polls `ok` every 20 ms for up to 20 s, then asserts it. */
export async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!ok() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(ok(), what);
}
