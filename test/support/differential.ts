/**
 * The differential check behind the desync corpus and the fuzz runs: send a client's exact
 * bytes through the proxy to the recording upstream, then a canary request from another
 * client on the same pooled connection, and compare what reached the upstream with what
 * the client sent. Returns every problem found (none means the proxy held):
 *
 * - every byte the upstream received parses as well-framed requests;
 * - no more requests reach it than the client sent, and each answer the client got is the
 *   upstream's answer to one of its own requests;
 * - nothing leaves the proxy that the client could not have sent directly: each forwarded
 *   request line and header (but the proxy's own: Host, our token, framing, the request id)
 *   is one the client sent, and no credential of the client's gets through;
 * - the canary arrives alone, intact, and gets its own answer.
 */
import { rawRequest, type RawResponse } from './raw-client';
import { header, type RawUpstream, type UpstreamRequest } from './raw-upstream';
import { until } from './wait';

/** Fields the proxy sets itself on every forwarded request. */
const PROXY_OWN = new Set([
  'host',
  'authorization',
  'content-length',
  'transfer-encoding',
  'expect',
  'connection',
  'x-request-id',
]);

/** Credentials a client may never pass on (the harness listener does not allow RunAs). */
const NEVER_FORWARDED = ['proxy-authorization', 'runas'];

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function sentByClient(message: string, name: string, value: string): boolean {
  const line = new RegExp(`(^|\\n)${escape(name)}:[ \\t]*${escape(value)}[ \\t]*\\r?\\n`);
  return line.test(message);
}

function checkForwarded(request: UpstreamRequest, message: string): string[] {
  const problems: string[] = [];
  const what = `${request.method} ${request.target}`;
  if (!message.includes(`${request.method} `)) problems.push(`${what}: method never sent`);
  if (!message.includes(request.target)) problems.push(`${what}: target never sent`);
  for (const [name, value] of request.headers) {
    const lower = name.toLowerCase();
    if (NEVER_FORWARDED.includes(lower)) problems.push(`${what}: client ${name} forwarded`);
    else if (!PROXY_OWN.has(lower) && !sentByClient(message, name, value)) {
      problems.push(`${what}: header ${name}: ${value} never sent by the client`);
    }
  }
  if (!/^token \S+$/.test(header(request, 'authorization') ?? '')) {
    problems.push(`${what}: Authorization is not our token`);
  }
  return problems;
}

const answerOf = (response: RawResponse): number | undefined => {
  const m = /^answer (\d+)$/.exec(response.body.toString('latin1'));
  return m === null ? undefined : Number(m[1]);
};

/**
 * Which of the message's requests are HEAD, in order, so their answers are read without a
 * body: a request line is a method, a target and an HTTP version at the start of a line,
 * parted by one space or, as Node's parser and RFC 9112 §3 allow, by several.
 */
function headRequests(message: string): boolean[] {
  return [...message.matchAll(/(?:^|\n)([!-~]+) +\S* +HTTP\/1\./g)].map((m) => m[1] === 'HEAD');
}

const CANARY =
  'GET /API/canary HTTP/1.1\r\nHost: canary\r\nX-Canary: 1\r\nConnection: close\r\n\r\n';
const isCanary = (r: UpstreamRequest): boolean =>
  r.target === '/API/canary' && header(r, 'x-canary') === '1';

/**
 * `requests`: how many requests the message holds (a bound on what may be forwarded).
 * The client keeps its connection open (a half-close counts as leaving, for Node and nginx
 * alike) until it has as many answers, the proxy closes it, or `waitMs` passed — a message
 * that declares more body than it carries waits that long — and then leaves. `settled`
 * tells when the proxy has nothing of it in flight any more; only then comes the canary.
 * Whatever else reaches the upstream until the canary is answered counts as the message's.
 * The upstream must answer each request with the default `answer <sequence>`.
 */
export async function differential(
  port: number,
  upstream: RawUpstream,
  message: string | Buffer,
  requests: number,
  settled: () => boolean,
  waitMs = 2000,
): Promise<string[]> {
  const text = typeof message === 'string' ? message : message.toString('latin1');
  const before = upstream.requests.length;
  const malformedBefore = upstream.malformed.length;
  const result = await rawRequest(port, message, {
    responses: Math.max(requests, 1),
    timeoutMs: waitMs,
    head: headRequests(text),
  });
  await until(settled, 5000);
  const canary = await rawRequest(port, CANARY);
  const arrived = upstream.requests.slice(before);
  const forwarded = arrived.filter((r) => !isCanary(r));
  const canaries = arrived.filter(isCanary);

  const problems: string[] = [];
  if (forwarded.length > requests) {
    problems.push(`${forwarded.length} requests forwarded for ${requests} sent`);
  }
  for (const request of forwarded) problems.push(...checkForwarded(request, text));
  const ours = new Set(forwarded.map((r) => r.sequence));
  for (const response of result.responses) {
    const answer = answerOf(response);
    if (answer !== undefined && !ours.has(answer)) {
      problems.push(`client got answer ${answer}, which was not for its own request`);
    }
  }
  if (canaries.length !== 1) {
    problems.push(`the canary arrived ${canaries.length} times`);
  } else {
    const [seen] = canaries;
    problems.push(...checkForwarded(seen, CANARY).map((p) => `canary: ${p}`));
    const got = canary.responses.map(answerOf);
    if (got.length !== 1 || got[0] !== seen.sequence) {
      problems.push(`canary got ${JSON.stringify(canary.responses.map((r) => r.body.toString()))}`);
    }
  }
  for (const bad of upstream.malformed.slice(malformedBefore)) {
    problems.push(`upstream could not parse: ${bad.problem} in ${JSON.stringify(bad.bytes)}`);
  }
  return problems;
}
