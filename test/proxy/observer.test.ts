import { combineObservers, type ForwardObserver } from '../../src/proxy/observer';

const REQUEST = { requestId: undefined, method: 'GET', path: '/API/item' };

describe('combineObservers', () => {
  it('combines observers, calling each in order', () => {
    const calls: string[] = [];
    const recorder = (name: string): ForwardObserver => ({
      requestStarted: () => calls.push(`${name}:started`),
      requestFinished: (user, method, status, duration) =>
        calls.push(`${name}:${user} ${method} ${status} ${duration}`),
      upstreamError: (reason, user, detail) =>
        calls.push(`${name}:error ${reason} ${user} ${detail}`),
      upstreamUnauthorized: (user, retried) => calls.push(`${name}:401 ${user} ${retried}`),
    });
    const both = combineObservers(recorder('a'), recorder('b'));
    both.requestStarted?.();
    both.requestFinished?.('u', 'PUT', 201, 1.5);
    both.upstreamError?.('reset', 'u', 'read ECONNRESET', REQUEST);
    both.upstreamUnauthorized?.('u', false);
    expect(calls).toEqual([
      'a:started',
      'b:started',
      'a:u PUT 201 1.5',
      'b:u PUT 201 1.5',
      'a:error reset u read ECONNRESET',
      'b:error reset u read ECONNRESET',
      'a:401 u false',
      'b:401 u false',
    ]);
  });

  it('passes each report only to the observers that take it, and leaves out what none takes', () => {
    const errors: string[] = [];
    const both = combineObservers({ upstreamError: (reason) => errors.push(reason) }, {});
    expect(Object.keys(both)).toEqual(['upstreamError']);
    both.upstreamError?.('tls', 'u', 'self-signed certificate', REQUEST);
    expect(errors).toEqual(['tls']);
  });
});
