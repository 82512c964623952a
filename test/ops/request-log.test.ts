import { combineObservers, createAccessLog, forwardLogObserver } from '../../src/ops/request-log';
import { captureLogs } from './support';
import type { ForwardObserverView } from '../../src/ops/views';

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
      bytes: 42,
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
        bytes: 42,
        msg: 'GET /API/item?token=[REDACTED]&first=1 200',
      }),
    ]);
  });
});

describe('forward log observer', () => {
  it('logs replays after 401 and upstream errors; a 401 passed on only at debug', () => {
    const { logger, lines } = captureLogs('debug');
    const observer = forwardLogObserver(logger);
    observer.requestStarted();
    observer.requestFinished('ingest', 'GET', 200, 0.1);
    observer.upstreamUnauthorized('ingest', true);
    observer.upstreamUnauthorized('ingest', false);
    observer.upstreamError('refused');
    expect(lines.map((l) => [l.level, l.event, l.retried ?? l.reason])).toEqual([
      ['info', 'upstream_unauthorized', true],
      ['debug', 'upstream_unauthorized', false],
      ['warn', 'upstream_error', 'refused'],
    ]);
  });

  it('combines observers, calling each in order', () => {
    const calls: string[] = [];
    const recorder = (name: string): ForwardObserverView => ({
      requestStarted: () => calls.push(`${name}:started`),
      requestFinished: (user, method, status, duration) =>
        calls.push(`${name}:${user} ${method} ${status} ${duration}`),
      upstreamError: (reason) => calls.push(`${name}:error ${reason}`),
      upstreamUnauthorized: (user, retried) => calls.push(`${name}:401 ${user} ${retried}`),
    });
    const both = combineObservers(recorder('a'), recorder('b'));
    both.requestStarted();
    both.requestFinished('u', 'PUT', 201, 1.5);
    both.upstreamError('reset');
    both.upstreamUnauthorized('u', false);
    expect(calls).toEqual([
      'a:started',
      'b:started',
      'a:u PUT 201 1.5',
      'b:u PUT 201 1.5',
      'a:error reset',
      'b:error reset',
      'a:401 u false',
      'b:401 u false',
    ]);
  });
});
