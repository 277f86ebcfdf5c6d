// One version and one image name everywhere: package.json (via version.ts) is the source; the
// chart's values and Chart.yaml, the operator's default --gateway-image and the Dockerfile must
// agree with it. (The image `make image` builds is checked in e2e/image.test.ts; the chart's
// rendered default in e2e/chart.test.ts.)
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { IMAGE, IMAGE_REPOSITORY, VERSION } from '../version.ts';

const ROOT = resolve(import.meta.dirname, '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

test('the chart installs the image of its own release by default', () => {
  const chart = parse(read('charts/floodgate/Chart.yaml')) as { version: string; appVersion: string };
  const values = parse(read('charts/floodgate/values.yaml')) as { image: { repository: string; tag: string } };
  assert.equal(chart.appVersion, VERSION, 'Chart.yaml appVersion = package.json version');
  assert.equal(values.image.repository, IMAGE_REPOSITORY);
  assert.equal(values.image.tag, '', 'an empty tag means appVersion');
});

test("the operator's default --gateway-image is the release image", () => {
  const help = execFileSync(process.execPath, [join(ROOT, 'main.ts'), 'operator', '--help'], { encoding: 'utf8' });
  assert.match(help, new RegExp(`default ${IMAGE.replace(/[.]/g, '\\.')}\\)`));
});

test('the Dockerfile builds the same version on the pinned Node', () => {
  const docker = read('Dockerfile');
  assert.match(docker, new RegExp(`^ARG VERSION=${VERSION.replace(/[.]/g, '\\.')}$`, 'm'));
  assert.match(docker, new RegExp(`^ARG NODE_VERSION=${read('.node-version').trim().replace(/[.]/g, '\\.')}$`, 'm'));
});

test('the docs name the release image', () => {
  assert.ok(read('docs/helm.md').includes(`\`${IMAGE_REPOSITORY}\``), 'docs/helm.md lists image.repository');
});
