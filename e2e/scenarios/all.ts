// Every cluster scenario, in the order they run: the same list for the local one-node cluster
// (e2e/cluster-scenarios.test.ts) and for a kind cluster in hosted CI (run.ts, e2e/kind/).
import { CHAOS } from './chaos.ts';
import { JOBS } from './jobs.ts';
import { PLATFORM, TEARDOWN, type Scenario } from './platform.ts';

export const SCENARIOS: Scenario[] = [...PLATFORM, ...JOBS, ...CHAOS, ...TEARDOWN];
