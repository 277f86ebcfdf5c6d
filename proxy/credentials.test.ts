// Gateway keys: one minimum secret length however a key arrives, and a warning for a
// credentials file others can read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKeys, MIN_SECRET_LENGTH } from './credentials.ts';
import { loadGatewayConfig } from './config.ts';

test('a FLOODGATE_SECRET_KEY shorter than the minimum is refused like a short YAML secret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-keys-'));
  try {
    assert.equal(MIN_SECRET_LENGTH, 8);
    assert.throws(() => loadKeys(dir, [], { FLOODGATE_ACCESS_KEY: 'AKID', FLOODGATE_SECRET_KEY: 'x' }), /at least 8 characters/);
    assert.equal(loadKeys(dir, [], { FLOODGATE_ACCESS_KEY: 'AKID', FLOODGATE_SECRET_KEY: '12345678' }).keys.get('AKID'), '12345678');
    assert.throws(() => loadGatewayConfig(['--fault-token', 'short'], {}, () => ({})), /at least 8 characters/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a generated pair is marked created once; a credentials file readable by others is warned about', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-keys-'));
  try {
    const first = loadKeys(dir, [], {});
    assert.equal(first.generated?.created, true);
    assert.equal(first.warning, undefined);
    const again = loadKeys(dir, [], {});
    assert.equal(again.generated?.created, false);
    assert.equal(again.generated?.accessKeyId, first.generated?.accessKeyId);
    assert.equal(again.warning, undefined);
    chmodSync(join(dir, '.floodgate', 'credentials.json'), 0o644);
    assert.match(loadKeys(dir, [], {}).warning ?? '', /readable by others \(mode 0644\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
