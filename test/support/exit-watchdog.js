'use strict';
// On two cores Jest runs the test files in its own process, so a server, socket or child a
// test forgets keeps that process alive after the summary: `npm test` would never return and
// CI would wait out its whole time limit. Once the run is over, this reporter gives the
// process `graceSeconds` to end by itself; if it is still there, it names what holds it and
// exits with a failure. Its timer is unreferenced: it fires only in a process kept alive by
// something else, and never delays a run that ends cleanly.
class ExitWatchdog {
  /**
   * @param {{ watch: boolean, watchAll: boolean }} globalConfig A watching Jest is meant to stay.
   * @param {{ graceSeconds?: number }} options How long after the summary the process may
   *   still be running; Jest's own teardown (global teardown, cache writes) fits well within
   *   the default of 10 s.
   */
  constructor(globalConfig, options = {}) {
    this.watching = globalConfig.watch || globalConfig.watchAll;
    this.graceMs = (options.graceSeconds ?? 10) * 1000;
  }

  onRunComplete() {
    if (this.watching) return;
    setTimeout(() => {
      // Listed while its callback runs, this timer is not among them.
      const held = process.getActiveResourcesInfo();
      process.stderr.write(
        `The tests are over, but what they left open kept Jest running ` +
          `${this.graceMs / 1000} s after its summary: ${held.join(', ')}. ` +
          'A test left a server, socket, child process or timer behind; ' +
          'npx jest --detectOpenHandles <file> shows where it was made.\n',
      );
      process.exit(1);
    }, this.graceMs).unref();
  }
}
module.exports = ExitWatchdog;
