// The user's wallet, through any EIP-1193 provider (window.ethereum): sign-in (EIP-4361),
// typed-data signatures (EIP-712) and transactions sent from the user's own account.
// The service never sees a key: it answers messages to sign and unsigned transactions.

const SESSION_KEY = "fedmarket.session";
const USER_REJECTED = 4001;

export class WalletError extends Error {
  constructor(message, code = "wallet") {
    super(message);
    this.name = "WalletError";
    this.code = code;
  }
}

export class ApiError extends Error {
  constructor(message, status, field = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.field = field;
  }
}

/** A sentence a person can act on, for any error thrown here or by the wallet. */
export function describe(error) {
  if (!error) return "Something went wrong.";
  if (error.code === USER_REJECTED) return "You rejected the request in your wallet: nothing was signed or sent.";
  if (error instanceof WalletError || error instanceof ApiError) return error.message;
  if (error.message) return error.message;
  return String(error);
}

export function provider() {
  return window.ethereum || null;
}

export async function request(method, params = []) {
  const wallet = provider();
  if (!wallet) {
    throw new WalletError("No wallet found: install a browser wallet (any EIP-1193 wallet, such as MetaMask).", "no_wallet");
  }
  return wallet.request({ method, params });
}

function utf8Hex(text) {
  const bytes = new TextEncoder().encode(text);
  return "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function problem(status, body) {
  const detail = body && body.detail;
  if (Array.isArray(detail) && detail.length) {
    const first = detail[0];
    const loc = Array.isArray(first.loc) ? first.loc.filter((p) => p !== "body") : [];
    const field = loc.length ? String(loc[0]) : null;
    return new ApiError(`${field ? field + ": " : ""}${first.msg || "invalid"}`, status, field);
  }
  if (typeof detail === "string") return new ApiError(detail, status);
  return new ApiError(`The service answered ${status}.`, status);
}

/** Call the marketplace API (same origin); signed-in calls carry the session's bearer token. */
export async function api(path, { method = "GET", body = undefined, auth = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) {
    const current = session();
    if (!current) throw new WalletError("Connect your wallet first.", "signed_out");
    headers.Authorization = `Bearer ${current.token}`;
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError("The marketplace service cannot be reached.", 0);
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw problem(response.status, data);
  return data;
}

export function session() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    if (saved && saved.expires_at > Date.now() / 1000 + 30) return saved;
  } catch (error) {
    /* an unreadable saved session is no session */
  }
  return null;
}

export function signOut() {
  const current = session();
  if (current) {
    fetch("/auth/session", { method: "DELETE", headers: { Authorization: `Bearer ${current.token}` } }).catch(() => {});
  }
  sessionStorage.removeItem(SESSION_KEY);
}

/** Make sure the wallet is on ``chainId``; ask it to switch, and say so when it will not. */
export async function ensureChain(chainId) {
  const current = parseInt(await request("eth_chainId"), 16);
  if (current === chainId) return;
  try {
    await request("wallet_switchEthereumChain", [{ chainId: "0x" + chainId.toString(16) }]);
  } catch (error) {
    throw new WalletError(`Wrong network: your wallet is on chain ${current}; switch it to chain ${chainId} to use this marketplace.`, "wrong_network");
  }
  const after = parseInt(await request("eth_chainId"), 16);
  if (after !== chainId) {
    throw new WalletError(`Wrong network: your wallet is on chain ${after}; switch it to chain ${chainId}.`, "wrong_network");
  }
}

/** Connect the wallet and sign in with EIP-4361; the session is kept for this tab. */
export async function connect(chainId) {
  const accounts = await request("eth_requestAccounts");
  if (!accounts || !accounts.length) throw new WalletError("The wallet shared no account.", "no_account");
  await ensureChain(chainId);
  const account = accounts[0];
  const current = session();
  if (current && current.address.toLowerCase() === account.toLowerCase()) return current;
  const challenge = await api(`/auth/nonce?address=${encodeURIComponent(account)}`);
  const signature = await request("personal_sign", [utf8Hex(challenge.message), account]);
  const issued = await api("/auth/verify", { method: "POST", body: { message: challenge.message, signature } });
  const saved = { address: issued.address, token: issued.token, expires_at: issued.expires_at };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(saved));
  return saved;
}

export async function signTypedData(account, typed) {
  return request("eth_signTypedData_v4", [account, JSON.stringify(typed)]);
}

async function receiptOf(hash, timeoutMs) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const receipt = await request("eth_getTransactionReceipt", [hash]);
    if (receipt) return receipt;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new WalletError(`Transaction ${hash} was not mined within ${timeoutMs / 1000} s; check it in your wallet.`, "timeout");
}

/** Send a plan's steps from ``account`` in order, each after the previous one is mined. */
export async function sendPlan(plan, account, onStep = () => {}, timeoutMs = 120000) {
  const receipts = [];
  for (const step of plan.steps) {
    onStep(step, "signing");
    const hash = await request("eth_sendTransaction", [{ from: account, to: step.to, data: step.data }]);
    onStep(step, "sent", hash);
    const receipt = await receiptOf(hash, timeoutMs);
    if (receipt.status !== "0x1" && receipt.status !== 1) {
      throw new WalletError(`“${step.label}” was reverted on-chain (transaction ${hash}).`, "reverted");
    }
    onStep(step, "mined", hash);
    receipts.push(receipt);
  }
  return receipts;
}

/** Wait until the service's index has read ``block`` (its pages then show the change). */
export async function waitIndexed(block, timeoutMs = 30000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const health = await fetch("/health").then((r) => r.json()).catch(() => null);
    if (health && health.index && health.index.block !== null && health.index.block >= block) return true;
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
  return false;
}
