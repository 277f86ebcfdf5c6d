// The registry's guarantees, with effects that take their time to start (as a disk fill does):
// one activation per id however the injects interleave, and close() reverting faults still starting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Activation } from './activation.ts';
import { parseFaultSpec, type FaultSpec } from './model.ts';
import { FaultRegistry, type Effects, type EndReason } from './registry.ts';

const spec = (input: unknown): FaultSpec => { const r = parseFaultSpec(input); assert.ok(r.ok); return r.value; };

function slowEffects(startMs: number) {
  const started: string[] = [];
  const stopped: [string, EndReason][] = [];
  const effects: Effects = {
    async start(a: Activation, signal?: AbortSignal) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, startMs);
        signal?.addEventListener('abort', () => { clearTimeout(t); reject(new Error('aborted')); }, { once: true });
      });
      started.push(a.id);
    },
    async stop(a, reason) { stopped.push([a.id, reason]); },
  };
  return { effects, started, stopped };
}

test('two concurrent injects of one id start one activation; stopping it leaves nothing running', async () => {
  const e = slowEffects(50);
  const reg = new FaultRegistry({ defaultDurationMs: 60_000, maxDurationMs: 60_000, effects: e.effects });
  const s = spec({ id: 'burn', kind: 'cpu', cores: 0.5 });
  const [a, b] = await Promise.all([reg.add(s), reg.add(s)]);
  assert.deepEqual([a.created, b.created].sort(), [false, true]);
  assert.equal(a.activation, b.activation);
  assert.deepEqual(e.started, ['burn']);
  await assert.rejects(Promise.all([reg.add(spec({ id: 'x', kind: 'cpu', cores: 0.5 })), reg.add(spec({ id: 'x', kind: 'cpu', cores: 0.25 }))]), { name: 'ConflictError' });
  assert.equal(await reg.remove('burn', 'stopped'), true);
  await reg.close();
  assert.deepEqual(e.started.sort(), e.stopped.map(([id]) => id).sort(), 'every started effect stopped once');
});

test('close() while an effect is still starting aborts it; nothing is left started and not stopped', async () => {
  const e = slowEffects(10_000);
  const reg = new FaultRegistry({ defaultDurationMs: 60_000, maxDurationMs: 60_000, effects: e.effects });
  const pending = reg.add(spec({ id: 'fill', kind: 'memory', bytes: '1Mi' }));
  await new Promise((r) => setTimeout(r, 20));
  await reg.close();
  await assert.rejects(pending);
  assert.deepEqual(e.started, []);
  await assert.rejects(reg.add(spec({ kind: 'stall' })), /shutting down/);
});

test('an expiresAt already past is refused before any effect starts', async () => {
  const e = slowEffects(0);
  const reg = new FaultRegistry({ defaultDurationMs: 60_000, maxDurationMs: 60_000, effects: e.effects });
  await assert.rejects(reg.add(spec({ kind: 'stall', expiresAt: new Date(Date.now() - 1).toISOString() })), { name: 'InvalidFaultError', message: /^expiresAt: / });
  assert.deepEqual(e.started, []);
  await reg.close();
});
