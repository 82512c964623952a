import { leaveRunTmpdir } from './run-tmpdir';

/** Runs once after the last test file: removes the run's temporary directory. */
export default function globalTeardown(): void {
  leaveRunTmpdir();
}
