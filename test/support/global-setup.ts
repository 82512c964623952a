import { ensureK8sTools } from './k8s-tools';

/** Runs once before any test file: fetches the pinned Helm and kubectl into their cache. */
export default function globalSetup(): void {
  ensureK8sTools();
}
