import { requestIdFrom } from '../../src/proxy/request-id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('request id', () => {
  it('keeps a sane client id', () => {
    expect(requestIdFrom('abc-123')).toEqual({ id: 'abc-123', generated: false });
    expect(requestIdFrom(['first', 'second'])).toEqual({ id: 'first', generated: false });
  });

  it.each([undefined, '', 'with space', 'x'.repeat(129), 'line\nbreak'])(
    'makes a fresh one instead of %j',
    (header) => {
      const { id, generated } = requestIdFrom(header);
      expect(generated).toBe(true);
      expect(id).toMatch(UUID);
    },
  );
});
