// keccak.js: Keccak-256 as Ethereum uses it (the original Keccak padding 0x01, not SHA3's 0x06).
//
// The 1600-bit state is 25 lanes of 64 bits, each kept as two 32-bit halves (lo, hi) in a
// Uint32Array, so no BigInt is needed and megabytes hash in well under a second. The round
// constants and rotation offsets are computed from their definitions (FIPS 202, 3.2.2 and
// 3.2.5) rather than copied as tables.
//
//   import { keccak256, keccak256Hex } from "/static/keccak.js";
//   keccak256Hex(new TextEncoder().encode("abc"))  // "0x4e0365...a0c1"

const RATE = 136; // bytes absorbed per block: (1600 - 2 * 256) / 8
const ROUNDS = 24;

function roundConstants() {
  // rc(t): the output bit of the LFSR x^8 + x^6 + x^5 + x^4 + 1 after t steps.
  const bits = [];
  let r = 1;
  for (let t = 0; t < 7 * ROUNDS; t += 1) {
    bits.push(r & 1);
    r <<= 1;
    if (r & 0x100) r ^= 0x171;
  }
  const lo = new Uint32Array(ROUNDS);
  const hi = new Uint32Array(ROUNDS);
  for (let round = 0; round < ROUNDS; round += 1) {
    for (let j = 0; j < 7; j += 1) {
      if (!bits[j + 7 * round]) continue;
      const position = (1 << j) - 1; // 0, 1, 3, 7, 15, 31, 63
      if (position < 32) lo[round] |= 1 << position;
      else hi[round] |= 1 << (position - 32);
    }
  }
  return { lo, hi };
}

function rhoPi() {
  // For each lane (x, y): where pi moves it, and by how much rho rotates it.
  const target = new Int32Array(25);
  const offset = new Int32Array(25);
  let x = 1;
  let y = 0;
  for (let t = 0; t < 24; t += 1) {
    offset[x + 5 * y] = (((t + 1) * (t + 2)) / 2) % 64;
    [x, y] = [y, (2 * x + 3 * y) % 5];
  }
  for (x = 0; x < 5; x += 1) {
    for (y = 0; y < 5; y += 1) target[x + 5 * y] = y + 5 * ((2 * x + 3 * y) % 5);
  }
  return { target, offset };
}

const RC = roundConstants();
const PI = rhoPi();

function rotate(lo, hi, n, out, at) {
  // out[2at], out[2at+1] = (hi:lo) rotated left by n bits
  if (n === 0) {
    out[2 * at] = lo;
    out[2 * at + 1] = hi;
  } else if (n < 32) {
    out[2 * at] = (lo << n) | (hi >>> (32 - n));
    out[2 * at + 1] = (hi << n) | (lo >>> (32 - n));
  } else if (n === 32) {
    out[2 * at] = hi;
    out[2 * at + 1] = lo;
  } else {
    const m = n - 32;
    out[2 * at] = (hi << m) | (lo >>> (32 - m));
    out[2 * at + 1] = (lo << m) | (hi >>> (32 - m));
  }
}

function permute(state) {
  // Keccak-f[1600] in place; lane i is state[2i] (low half), state[2i + 1] (high half).
  const c = new Uint32Array(10);
  const b = new Uint32Array(50);
  for (let round = 0; round < ROUNDS; round += 1) {
    for (let x = 0; x < 5; x += 1) {
      let lo = 0;
      let hi = 0;
      for (let y = 0; y < 25; y += 5) {
        lo ^= state[2 * (x + y)];
        hi ^= state[2 * (x + y) + 1];
      }
      c[2 * x] = lo;
      c[2 * x + 1] = hi;
    }
    for (let x = 0; x < 5; x += 1) {
      const prev = (x + 4) % 5;
      const next = (x + 1) % 5;
      const nlo = c[2 * next];
      const nhi = c[2 * next + 1];
      const dlo = c[2 * prev] ^ ((nlo << 1) | (nhi >>> 31));
      const dhi = c[2 * prev + 1] ^ ((nhi << 1) | (nlo >>> 31));
      for (let y = 0; y < 25; y += 5) {
        state[2 * (x + y)] ^= dlo;
        state[2 * (x + y) + 1] ^= dhi;
      }
    }
    for (let i = 0; i < 25; i += 1) {
      rotate(state[2 * i], state[2 * i + 1], PI.offset[i], b, PI.target[i]);
    }
    for (let y = 0; y < 25; y += 5) {
      for (let x = 0; x < 5; x += 1) {
        const i = x + y;
        const i1 = ((x + 1) % 5) + y;
        const i2 = ((x + 2) % 5) + y;
        state[2 * i] = b[2 * i] ^ (~b[2 * i1] & b[2 * i2]);
        state[2 * i + 1] = b[2 * i + 1] ^ (~b[2 * i1 + 1] & b[2 * i2 + 1]);
      }
    }
    state[0] ^= RC.lo[round];
    state[1] ^= RC.hi[round];
  }
}

function absorb(state, block, start) {
  // XOR one 136-byte block (little-endian lanes) into the state.
  for (let k = 0; k < RATE; k += 4) {
    const word =
      block[start + k] |
      (block[start + k + 1] << 8) |
      (block[start + k + 2] << 16) |
      (block[start + k + 3] << 24);
    state[k >> 2] ^= word;
  }
}

/**
 * Keccak-256 of `data` (Ethereum's hash).
 * @param {Uint8Array} data
 * @returns {Uint8Array} 32 bytes
 */
export function keccak256(data) {
  if (!(data instanceof Uint8Array)) throw new TypeError("keccak256: data must be a Uint8Array");
  const state = new Uint32Array(50);
  const whole = data.length - (data.length % RATE);
  for (let start = 0; start < whole; start += RATE) {
    absorb(state, data, start);
    permute(state);
  }
  const last = new Uint8Array(RATE);
  last.set(data.subarray(whole));
  last[data.length - whole] ^= 0x01;
  last[RATE - 1] ^= 0x80;
  absorb(state, last, 0);
  permute(state);
  const out = new Uint8Array(32);
  for (let k = 0; k < 32; k += 1) out[k] = (state[k >> 2] >>> (8 * (k & 3))) & 0xff;
  return out;
}

/**
 * Lower-case hex of bytes, with a 0x prefix.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function toHex(bytes) {
  let out = "0x";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

/**
 * Keccak-256 of `data` as 0x-prefixed lower-case hex.
 * @param {Uint8Array} data
 * @returns {string}
 */
export function keccak256Hex(data) {
  return toHex(keccak256(data));
}
