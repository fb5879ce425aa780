// download.js: a licensed buyer's download, decrypted in the browser (no server sees the bytes).
//
// A browser wallet cannot do ECDH with the account key, so the page makes its own P-256 key pair
// (WebCrypto, private half non-extractable), has the wallet personal_sign the text the service
// answers for that key (GET .../content/browser-message), and posts key, expiry and signature
// (POST .../content/browser). The service wraps the content key to the browser key (FMBK v1, see
// storage/sealing.py); this module unwraps it (ECDH, HKDF-SHA256, AES-GCM), opens the sealed
// envelope (FMSA v1, AES-256-GCM) and checks keccak-256 of the plaintext against the hash the
// page read on-chain. The envelope's purpose and the key's context are computed here from what
// the page knows (kind, chain id, contract, id, account), never taken from the service's answer.
//
//   import { downloadItem, saveBytes } from "/static/download.js";
//   const { bytes, hash } = await downloadItem({ provider: window.ethereum, account, kind: "model",
//     id: 3, expectedHash, chainId: 31337, contract: marketAddress,
//     token });  // the session's bearer token (or headers: {Authorization: ...})
//   saveBytes(bytes, "model-3.bin");

import { keccak256, keccak256Hex, toHex } from "./keccak.js";

export const BROWSER_WRAP = "p256-browser-v1";

const WRAP_MAGIC = [0x46, 0x4d, 0x42, 0x4b]; // "FMBK"
const WRAP_HEADER = 82; // magic 4, version 1, ephemeral key 65, nonce 12
const WRAP_BYTES = WRAP_HEADER + 32 + 16;
const WRAP_INFO = "fedmarket browser key-wrap v1";
const ENVELOPE_MAGIC = [0x46, 0x4d, 0x53, 0x41]; // "FMSA"
const ENVELOPE_HEADER = 25; // magic 4, version 1, nonce 12, plaintext length 8 (big-endian)
const TAG = 16;
const P256 = { name: "ECDH", namedCurve: "P-256" };
const utf8 = new TextEncoder();

/** A download that failed: the message says what and why, for the page to show. */
export class DownloadError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = "DownloadError";
  }
}

function fromHex(hex, what) {
  const digits = String(hex).replace(/^0x/i, "");
  if (digits.length % 2 || /[^0-9a-f]/i.test(digits)) {
    throw new DownloadError(`${what} is not hex`);
  }
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function startsWith(bytes, magic) {
  return magic.every((byte, i) => bytes[i] === byte);
}

/**
 * The EIP-55 checksummed form of an address (any case in).
 * @param {string} address
 * @returns {string}
 */
export function checksumAddress(address) {
  const lower = String(address).toLowerCase().replace(/^0x/, "");
  if (!/^[0-9a-f]{40}$/.test(lower)) throw new DownloadError(`not an address: ${address}`);
  const hash = keccak256(utf8.encode(lower));
  let out = "0x";
  for (let i = 0; i < 40; i += 1) {
    const nibble = (hash[i >> 1] >> (i % 2 ? 0 : 4)) & 0xf;
    out += nibble >= 8 ? lower[i].toUpperCase() : lower[i];
  }
  return out;
}

/**
 * The associated data an item's envelope is sealed with (ArtifactRef.purpose on the server).
 * @returns {string} "fedmarket:{kind}:{chainId}:{checksummed contract}:{id}"
 */
export function purposeOf(kind, chainId, contract, id) {
  if (kind !== "model" && kind !== "dataset") throw new DownloadError(`unknown kind ${kind}`);
  return `fedmarket:${kind}:${Number(chainId)}:${checksumAddress(contract)}:${Number(id)}`;
}

/**
 * The associated data of a content key wrapped to a browser key of `account`.
 * @returns {string} purpose + ":key-for:" + checksummed account + ":browser"
 */
export function browserKeyContext(purpose, account) {
  return `${purpose}:key-for:${checksumAddress(account)}:browser`;
}

/**
 * A fresh P-256 ECDH key pair whose private half never leaves WebCrypto.
 * @returns {Promise<{privateKey: CryptoKey, publicKey: Uint8Array, publicKeyHex: string}>}
 */
export async function newBrowserKey() {
  const pair = await crypto.subtle.generateKey(P256, false, ["deriveBits"]);
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { privateKey: pair.privateKey, publicKey, publicKeyHex: toHex(publicKey) };
}

async function keyEncryptionKey(privateKey, ephemeral, recipient, context) {
  let ephemeralKey;
  try {
    ephemeralKey = await crypto.subtle.importKey("raw", ephemeral, P256, false, []);
  } catch (error) {
    throw new DownloadError("the wrapped key's ephemeral key is not a P-256 point", {
      cause: error,
    });
  }
  const shared = await crypto.subtle.deriveBits(
    { name: "ECDH", public: ephemeralKey },
    privateKey,
    256,
  );
  const ikm = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
  const hkdf = {
    name: "HKDF",
    hash: "SHA-256",
    salt: concat(ephemeral, recipient),
    info: concat(utf8.encode(WRAP_INFO), utf8.encode(context)),
  };
  return crypto.subtle.deriveKey(hkdf, ikm, { name: "AES-GCM", length: 256 }, false, ["decrypt"]);
}

/**
 * Unwrap a content key wrapped to this browser's key (FMBK v1, storage.sealing.wrap_key_p256).
 * @param {CryptoKey} privateKey the browser's ECDH private key
 * @param {Uint8Array} publicKey its 65-byte raw public key
 * @param {Uint8Array} wrapped the 130-byte wrapped key
 * @param {string} context the associated data it was wrapped with
 * @returns {Promise<CryptoKey>} the content key, AES-GCM, decrypt only, not extractable
 */
export async function unwrapContentKey(privateKey, publicKey, wrapped, context) {
  if (wrapped.length !== WRAP_BYTES || !startsWith(wrapped, WRAP_MAGIC) || wrapped[4] !== 1) {
    throw new DownloadError(`not a browser-wrapped key (FMBK v1, ${WRAP_BYTES} bytes)`);
  }
  const header = wrapped.subarray(0, WRAP_HEADER);
  const kek = await keyEncryptionKey(privateKey, wrapped.subarray(5, 70), publicKey, context);
  const aad = concat(header, utf8.encode(context));
  let raw;
  try {
    raw = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: wrapped.subarray(70, 82), additionalData: aad },
      kek,
      wrapped.subarray(WRAP_HEADER),
    );
  } catch (error) {
    throw new DownloadError(
      "the wrapped key does not open with this browser's key for this item and account",
      { cause: error },
    );
  }
  return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["decrypt"]);
}

/**
 * Open a sealed envelope (FMSA v1, storage.sealing.seal) with its content key.
 * @param {CryptoKey} contentKey
 * @param {Uint8Array} envelope
 * @param {string} purpose the associated data it was sealed with (purposeOf)
 * @returns {Promise<Uint8Array>} the plaintext
 */
export async function openEnvelope(contentKey, envelope, purpose) {
  if (envelope.length < ENVELOPE_HEADER + TAG || !startsWith(envelope, ENVELOPE_MAGIC)) {
    throw new DownloadError("not a sealed envelope (bad magic or too short)");
  }
  if (envelope[4] !== 1) throw new DownloadError(`unsupported envelope version ${envelope[4]}`);
  const view = new DataView(envelope.buffer, envelope.byteOffset, ENVELOPE_HEADER);
  const length = view.getBigUint64(17);
  if (length !== BigInt(envelope.length - ENVELOPE_HEADER - TAG)) {
    throw new DownloadError("the envelope's length does not match its header");
  }
  const aad = concat(envelope.subarray(0, ENVELOPE_HEADER), utf8.encode(purpose));
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: envelope.subarray(5, 17), additionalData: aad },
      contentKey,
      envelope.subarray(ENVELOPE_HEADER),
    );
    return new Uint8Array(plain);
  } catch (error) {
    throw new DownloadError("the envelope does not open: damaged, or not this item's", {
      cause: error,
    });
  }
}

async function failure(response, what) {
  let detail = response.statusText;
  try {
    const body = await response.json();
    detail = Array.isArray(body.detail)
      ? body.detail.map((e) => `${(e.loc || []).join(".")}: ${e.msg}`).join("; ")
      : String(body.detail ?? detail);
  } catch {
    // not JSON: keep the status text
  }
  return new DownloadError(`${what} failed (${response.status}): ${detail}`);
}

async function call(url, what, init, headers) {
  let response;
  try {
    response = await fetch(url, {
      credentials: "same-origin",
      cache: "no-store",
      ...init,
      headers: { ...headers, ...(init?.headers || {}) },
    });
  } catch (error) {
    throw new DownloadError(`${what} failed: the service cannot be reached`, { cause: error });
  }
  if (!response.ok) throw await failure(response, what);
  return response;
}

async function signText(provider, account, text) {
  try {
    return await provider.request({
      method: "personal_sign",
      params: [toHex(utf8.encode(text)), account],
    });
  } catch (error) {
    const why = error?.code === 4001 ? "the request was rejected" : error?.message || error;
    throw new DownloadError(`The wallet did not sign the browser key: ${why}`, { cause: error });
  }
}

async function browserGrant({ provider, account, base, key, headers }) {
  const query = `public_key=${key.publicKeyHex}`;
  const asked = `${base}/content/browser-message?${query}`;
  const shown = await (await call(asked, "Asking for the text to sign", {}, headers)).json();
  checkMessage(shown.message, account, key);
  const signature = await signText(provider, account, shown.message);
  const body = JSON.stringify({ public_key: key.publicKeyHex, expires: shown.expires, signature });
  const init = { method: "POST", body, headers: { "Content-Type": "application/json" } };
  const granted = await call(`${base}/content/browser`, "Asking for the key", init, headers);
  return granted.json();
}

function checkMessage(text, account, key) {
  // The service defines the text; the wallet signs only one that is a browser-key text for
  // this account and this key (never, say, a sign-in message for another site).
  const lines = String(text).split("\n");
  const ok =
    lines.length === 5 &&
    lines[0] === "fedmarket browser key" &&
    lines[1] === `Account: ${checksumAddress(account)}` &&
    lines[3] === `Key: ${key.publicKeyHex}`;
  if (!ok) throw new DownloadError("the service asked to sign an unexpected text: not signed");
}

function checkGrant(grant, key, account) {
  if (grant.wrap !== BROWSER_WRAP) throw new DownloadError(`unexpected key wrap ${grant.wrap}`);
  if (String(grant.public_key).toLowerCase() !== key.publicKeyHex) {
    throw new DownloadError("the key was wrapped to another browser key");
  }
  if (String(grant.recipient).toLowerCase() !== String(account).toLowerCase()) {
    throw new DownloadError(`the key was granted to ${grant.recipient}, not to ${account}`);
  }
}

/**
 * Download a licensed item and decrypt it in the browser.
 *
 * @param {object} options
 * @param {object} options.provider an EIP-1193 provider (window.ethereum)
 * @param {string} options.account the connected account, signed in
 * @param {"model"|"dataset"} options.kind
 * @param {number} options.id the listing's id
 * @param {string} options.expectedHash keccak-256 of the plaintext, 0x hex (read on-chain)
 * @param {number} options.chainId
 * @param {string} options.contract the ModelMarket (models) or DatasetRegistry (datasets)
 * @param {string} [options.token] the session's bearer token (sent as Authorization: Bearer)
 * @param {object} [options.headers] more headers sent with each request
 * @param {string} [options.baseUrl] the API's origin; "" (same origin) by default
 * @param {function} [options.onStep] called with "key", "sign", "grant", "envelope", "decrypt"
 * @returns {Promise<{bytes: Uint8Array, hash: string}>}
 */
export async function downloadItem(options) {
  const { provider, account, kind, id, expectedHash, chainId, contract } = options;
  const { token, baseUrl = "", onStep = () => {} } = options;
  const headers = { ...(options.headers || {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (!provider?.request) throw new DownloadError("no wallet (EIP-1193 provider) to sign with");
  const purpose = purposeOf(kind, chainId, contract, id);
  const context = browserKeyContext(purpose, account);
  const base = `${baseUrl}/${kind === "model" ? "models" : "datasets"}/${Number(id)}`;
  onStep("key");
  const key = await newBrowserKey();
  onStep("sign");
  const grant = await browserGrant({ provider, account, base, key, headers });
  onStep("grant");
  checkGrant(grant, key, account);
  const wrapped = fromHex(grant.wrapped_key, "the wrapped key");
  const contentKey = await unwrapContentKey(key.privateKey, key.publicKey, wrapped, context);
  onStep("envelope");
  const sealed = `${base}/content/envelope`;
  const response = await call(sealed, "Fetching the sealed content", {}, headers);
  const envelope = new Uint8Array(await response.arrayBuffer());
  onStep("decrypt");
  const bytes = await openEnvelope(contentKey, envelope, purpose);
  const hash = keccak256Hex(bytes);
  if (hash !== String(expectedHash).toLowerCase()) {
    throw new DownloadError(`the content hashes to ${hash}, not to ${expectedHash} on-chain`);
  }
  return { bytes, hash };
}

/**
 * Hand bytes to the browser as a file download.
 * @param {Uint8Array} bytes
 * @param {string} filename
 * @param {string} [mediaType]
 */
export function saveBytes(bytes, filename, mediaType = "application/octet-stream") {
  const url = URL.createObjectURL(new Blob([bytes], { type: mediaType }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.rel = "noopener";
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
