// One large transfer (download or upload) in its own process, timed from the request to the
// last byte. A raw socket reading into one reused buffer keeps the client cheap (the
// node:http client tops out near 1 GiB/s here and eats the CPU the contenders need).
// Prints { bytes, seconds, mibps, status }; fails if a byte is missing.
import { connect } from 'node:net';

const { mode, url, bytes, headers } = JSON.parse(process.argv[2]);
const target = new URL(url);
const READ_BUFFER = Buffer.alloc(1024 * 1024);
const CHUNK = Buffer.alloc(1024 * 1024);
for (let i = 0; i < CHUNK.length; i++) CHUNK[i] = (i * 131 + 3) & 0xff;

function requestHead() {
  const lines = [
    `${mode === 'upload' ? 'PUT' : 'GET'} ${target.pathname}${target.search} HTTP/1.1`,
    `Host: ${target.host}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  if (mode === 'upload') {
    lines.push('Content-Type: application/octet-stream', `Content-Length: ${bytes}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Decodes a small chunked body (the upload's JSON answer). */
function dechunk(text) {
  let out = '';
  let at = 0;
  for (;;) {
    const eol = text.indexOf('\r\n', at);
    const size = parseInt(text.slice(at, eol), 16);
    if (!(size > 0)) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

/** Resolves with { status, bodyBytes, body } once Content-Length bytes of body arrived. */
function exchange(sendBody) {
  return new Promise((resolve, reject) => {
    let head = '';
    let status = 0;
    let length = -1;
    let received = 0;
    let text = '';
    let chunked = false;
    const socket = connect({
      host: target.hostname,
      port: Number(target.port),
      onread: {
        buffer: READ_BUFFER,
        callback(n, buf) {
          let offset = 0;
          if (length < 0) {
            head += buf.latin1Slice(0, n);
            const end = head.indexOf('\r\n\r\n');
            if (end < 0) return;
            status = Number(head.slice(9, 12));
            const m = /\r\ncontent-length:\s*(\d+)/i.exec(head.slice(0, end));
            chunked = m === null && /\r\ntransfer-encoding:\s*chunked/i.test(head.slice(0, end));
            if (m === null && (!chunked || mode !== 'upload')) {
              socket.destroy();
              reject(new Error(`HTTP ${status} without Content-Length`));
              return;
            }
            length = chunked ? Infinity : Number(m[1]);
            offset = n - (head.length - end - 4);
          }
          received += n - offset;
          if (mode === 'upload') text += buf.latin1Slice(offset, n);
          if (received >= length || (chunked && text.endsWith('0\r\n\r\n'))) {
            socket.destroy();
            resolve({ status, bodyBytes: received, body: chunked ? dechunk(text) : text });
          }
        },
      },
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection closed after ${received} bytes`)));
    socket.write(requestHead());
    sendBody(socket);
  });
}

function sendUpload(socket) {
  let left = bytes;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      if (!socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) return;
    }
    socket.off('drain', pump);
  };
  socket.on('drain', pump);
  pump();
}

const started = process.hrtime.bigint();
const r = await exchange(mode === 'upload' ? sendUpload : () => {});
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
let got = r.bodyBytes;
if (mode === 'upload') {
  try {
    got = JSON.parse(r.body).bytes;
  } catch {
    got = -1;
  }
}
if (r.status !== 200 || got !== bytes) {
  process.stderr.write(`${mode}: HTTP ${r.status}, ${got} of ${bytes} bytes\n`);
  process.exit(1);
}
process.stdout.write(
  `${JSON.stringify({ bytes, seconds, mibps: bytes / 1048576 / seconds, status: r.status })}\n`,
);
