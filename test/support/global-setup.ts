import { buildDist } from './build-dist';
import { ensureK8sTools } from './k8s-tools';

/**
 * Runs once before any test file: builds dist/ if a source changed, and fetches the pinned
 * Helm and kubectl into their cache.
 */
export default function globalSetup(): void {
  buildDist();
  ensureK8sTools();
}
