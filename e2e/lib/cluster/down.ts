// Removes a test cluster kept up with FLOODGATE_KEEP_CLUSTER=1 (or a crashed run's leftovers):
//   sudo node e2e/lib/cluster/down.ts
import { existsSync } from 'node:fs';
import { STATE_DIR, paths } from './layout.ts';
import { cleanHost } from './teardown.ts';

if (!existsSync(STATE_DIR)) {
  console.log(`no test cluster (${STATE_DIR} does not exist)`);
} else {
  cleanHost(paths());
  console.log('test cluster removed');
}
