// The simulator's file content (src/simulator/pattern.ts): byte i is i mod 251, so an offset
// mistake or a lost chunk changes the bytes. Chunks are views of one block, nothing is held.
const PERIOD = 251;
const WRITE_SIZE = PERIOD * 256;
const BLOCK = Buffer.alloc(WRITE_SIZE + PERIOD);
for (let i = 0; i < BLOCK.length; i++) BLOCK[i] = i % PERIOD;

/** The pattern at [offset, offset + length). */
export function* patternChunks(offset, length) {
  const start = offset % PERIOD;
  for (let left = length; left > 0; left -= WRITE_SIZE) {
    yield BLOCK.subarray(start, start + Math.min(left, WRITE_SIZE));
  }
}
