/** The token side's connections to Vidispine, on real sockets. */
import { createTransport } from '../../src/vidispine/transport';
import { ok, startRawUpstream, type RawUpstream } from '../support/raw-upstream';
import { until } from '../support/wait';

let upstream: RawUpstream;
afterEach(async () => upstream.close());

describe('an idle connection of the token side', () => {
  it('is closed by the proxy after 4 s, as the forwarded requests’ are', async () => {
    upstream = await startRawUpstream((request) => ok(`VX-token-${request.sequence}`));
    const transport = createTransport({ url: new URL(upstream.url) });
    try {
      await transport.get('/API/whoami', {}, AbortSignal.timeout(5000));
      expect(upstream.open()).toBe(1);
      // Kept until Vidispine closed it, it could meet the next mint as it closes.
      await until(() => upstream.open() === 0, 8000, 'the idle connection closed');
    } finally {
      transport.close();
    }
  });
});
