/**
 * How a failed TLS handshake is named for the metric, and how often it is said in the log:
 * once a minute per reason, with the count since the last line (a clock of the test's own).
 */
import {
  HANDSHAKE_LOG_INTERVAL_MS,
  HandshakeFailureLog,
  handshakeFailureReason,
} from '../../src/inject/handshake-failures';

describe('handshakeFailureReason', () => {
  it.each([
    ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'unknown_ca'],
    ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'bad_certificate'],
    ['ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE', 'bad_certificate'],
    ['ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN', 'bad_certificate'],
    ['ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'bad_certificate'],
    ['ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR', 'bad_certificate'],
    ['ERR_SSL_UNSUPPORTED_PROTOCOL', 'protocol'],
    ['ERR_SSL_HTTP_REQUEST', 'protocol'],
    ['ERR_SSL_NO_SHARED_CIPHER', 'protocol'],
    ['ECONNRESET', 'closed'],
    ['EPIPE', 'closed'],
    ['ERR_TLS_HANDSHAKE_TIMEOUT', 'other'],
    [undefined, 'other'],
  ])('%s is %s', (code, reason) => {
    expect(handshakeFailureReason(code)).toBe(reason);
  });
});

describe('HandshakeFailureLog', () => {
  it('says the first failure of each reason, then one a minute with the count since', () => {
    let now = 1_000;
    const log = new HandshakeFailureLog(() => now);
    expect(log.failed('unknown_ca')).toBe(1);
    expect(log.failed('protocol')).toBe(1);
    for (let i = 0; i < 500; i += 1) expect(log.failed('unknown_ca')).toBeUndefined();
    now += HANDSHAKE_LOG_INTERVAL_MS - 1;
    expect(log.failed('unknown_ca')).toBeUndefined();
    now += 1;
    // The 501 kept back since the first line, and this one.
    expect(log.failed('unknown_ca')).toBe(502);
    expect(log.failed('unknown_ca')).toBeUndefined();
    now += 10 * HANDSHAKE_LOG_INTERVAL_MS;
    expect(log.failed('unknown_ca')).toBe(2);
    expect(log.failed('protocol')).toBe(1);
  });
});
