import { authenticates, provesAccepted } from '../../src/vidispine/acceptance';

describe('provesAccepted', () => {
  const statuses = Array.from({ length: 500 }, (_, i) => 100 + i);

  it('counts 2xx, 3xx and a WebSocket 101 as proof that Vidispine accepted the token', () => {
    for (const status of statuses.filter((s) => (s >= 200 && s < 400) || s === 101))
      expect({ status, proves: provesAccepted(status) }).toEqual({ status, proves: true });
  });

  it('counts the 4xx Vidispine gives after authentication', () => {
    for (const status of [400, 403, 404, 405, 406, 409, 410, 412, 415, 416, 422])
      expect({ status, proves: provesAccepted(status) }).toEqual({ status, proves: true });
  });

  it('never counts a 401, a 5xx, another 1xx, or a 4xx a front end gives on its own', () => {
    const never = [401, 407, 408, 413, 414, 429, 431];
    for (const status of statuses.filter(
      (s) => s >= 500 || (s < 200 && s !== 101) || never.includes(s),
    ))
      expect({ status, proves: provesAccepted(status) }).toEqual({ status, proves: false });
  });

  it('decides every status from 100 to 599 one way or the other, 4xx included', () => {
    const proving = statuses.filter(provesAccepted);
    expect(proving.filter((s) => s >= 400)).toEqual(
      statuses.filter(
        (s) => s >= 400 && s < 500 && ![401, 407, 408, 413, 414, 429, 431].includes(s),
      ),
    );
  });
});

describe('authenticates', () => {
  it('is true for the API and its WebSocket endpoint, where Vidispine looks at the token', () => {
    for (const path of ['/API/whoami', '/API/item/VX-1;version=3?x=1', '/APIWS/echo'])
      expect({ path, looks: authenticates(path) }).toEqual({ path, looks: true });
  });

  it('is false for the roots that take no credentials and for anything else', () => {
    for (const path of [
      '/APInoauth/is-online',
      '/APInoauth/import/raw?passkey=k',
      '/APIinit/',
      '/APIdoc/',
      '/API',
      '/API?x=1',
      '/api/whoami',
      '/',
      '/favicon.ico',
    ])
      expect({ path, looks: authenticates(path) }).toEqual({ path, looks: false });
  });
});
