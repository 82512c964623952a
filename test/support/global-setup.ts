import { buildDist } from './build-dist';
import { ensureK8sTools } from './k8s-tools';
import { enterRunTmpdir } from './run-tmpdir';

/**
 * Runs once before any test file: gives the run a temporary directory of its own, builds
 * dist/ if a source changed, and fetches the pinned Helm and kubectl into their cache.
 */
export default function globalSetup(): void {
  enterRunTmpdir();
  buildDist();
  ensureK8sTools();
}
