import { YAML_NAMES } from '../../src/config/errors';
import {
  createAccessLog,
  createSessionLog,
  forwardLogObserver,
  upstreamErrorHint,
} from '../../src/ops/request-log';
import { captureLogs } from '../support/ops';

describe('access log', () => {
  it('writes one line per request with the request id, and scrubs credentials from the path', () => {
    const { logger, lines } = captureLogs('info');
    createAccessLog(logger)({
      requestId: 'r-1',
      user: 'ingest',
      method: 'GET',
      path: '/API/item?token=VSID-99887766&first=1',
      status: 200,
      durationSeconds: 0.01234,
      remoteAddress: '127.0.0.1',
      replayed: true,
    });
    expect(lines).toEqual([
      expect.objectContaining({
        event: 'request',
        requestId: 'r-1',
        user: 'ingest',
        method: 'GET',
        path: '/API/item?token=[REDACTED]&first=1',
        status: 200,
        durationMs: 12.3,
        remoteAddress: '127.0.0.1',
        replayed: true,
        msg: 'GET /API/item?token=[REDACTED]&first=1 200',
      }),
    ]);
  });
});

describe('WebSocket session log', () => {
  it('writes one line per session at info, whatever the level, with the access line names', () => {
    // As the access line: warn quiets the other lines, not this one.
    const { logger, lines } = captureLogs('warn');
    createSessionLog(logger)({
      requestId: 'r-2',
      user: 'ingest',
      method: 'GET',
      path: '/APIWS/notify?token=VSID-11223344',
      remoteAddress: '127.0.0.1',
      durationSeconds: 3725.04567,
      bytesReceived: 17,
      bytesSent: 9,
      end: 'error',
      detail: 'client connection: read ECONNRESET',
    });
    expect(lines).toEqual([
      {
        level: 'info',
        time: expect.any(String),
        service: 'vidispine-auth-proxy',
        event: 'websocket_session_ended',
        requestId: 'r-2',
        user: 'ingest',
        method: 'GET',
        path: '/APIWS/notify?token=[REDACTED]',
        remoteAddress: '127.0.0.1',
        durationMs: 3725045.7,
        bytesReceived: 17,
        bytesSent: 9,
        end: 'error',
        detail: 'client connection: read ECONNRESET',
        msg: 'websocket session ended: GET /APIWS/notify?token=[REDACTED] (error)',
      },
    ]);
  });
});

describe('forward log observer', () => {
  it('logs replays after 401 and upstream errors; a 401 passed on only at debug', () => {
    const { logger, lines } = captureLogs('debug');
    const observer = forwardLogObserver(logger, YAML_NAMES);
    observer.upstreamUnauthorized('ingest', true);
    observer.upstreamUnauthorized('ingest', false);
    observer.upstreamError('refused', 'ingest', 'connect ECONNREFUSED 10.0.0.5:8080', {
      requestId: undefined,
      method: 'GET',
      path: '/API/item',
    });
    expect(lines.map((l) => [l.level, l.event, l.user, l.retried ?? l.reason])).toEqual([
      ['info', 'upstream_unauthorized', 'ingest', true],
      ['debug', 'upstream_unauthorized', 'ingest', false],
      ['warn', 'upstream_error', 'ingest', 'refused'],
    ]);
    expect(lines[2]).toMatchObject({
      method: 'GET',
      path: '/API/item',
      detail: 'connect ECONNREFUSED 10.0.0.5:8080',
      msg: 'request of ingest to Vidispine failed (refused: connect ECONNREFUSED 10.0.0.5:8080)',
    });
  });

  // The codes Node gives the usual certificate failures, each where its advice is: a
  // self-signed certificate is DEPTH_ZERO_SELF_SIGNED_CERT, which no "SELF_SIGNED_…" names,
  // and a certificate past its date is far more often expired than the clock wrong.
  it.each<[string, RegExp]>([
    [
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      /DEPTH_ZERO_SELF_SIGNED_CERT[^:]*\): put the CA that issued it in vidispine\.caFile/,
    ],
    [
      'SELF_SIGNED_CERT_IN_CHAIN',
      /SELF_SIGNED_CERT_IN_CHAIN[^:]*\): put the CA that issued it in vidispine\.caFile/,
    ],
    [
      'CERT_HAS_EXPIRED',
      /CERT_HAS_EXPIRED or CERT_NOT_YET_VALID: [^.]*, or renew the certificate\./,
    ],
  ])('the tls hint says what to do about %s', (_, advice) => {
    expect(upstreamErrorHint('tls', YAML_NAMES)).toMatch(advice);
  });
});
