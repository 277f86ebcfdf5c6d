// run() of kube.ts against real processes: commands that exit without reading their stdin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run, type ScenarioEnv } from './kube.ts';

const env = { kubeconfig: '/dev/null' } as ScenarioEnv;

test('a command that exits without reading its stdin is judged by its exit code, never by an EPIPE outside the await', async () => {
  // More than a pipe holds: the write is still pending when the command has exited.
  const input = 'x'.repeat(1 << 20);
  assert.equal((await run('/bin/true', [], env, { input })).code, 0);
  assert.equal((await run('/bin/false', [], env, { input, allowFail: true })).code, 1);
  // Without input (kubectl delete --wait=false, which exits at once): no pipe to fail.
  for (let i = 0; i < 20; i++) assert.equal((await run('/bin/true', [], env)).code, 0);
});
