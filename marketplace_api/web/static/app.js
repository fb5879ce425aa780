// Page behaviours: the Connect button, the listing form, and the buttons whose transactions
// the user's wallet sends (buy, claim, stake, withdraw), plus the model download.
import * as wallet from "/static/wallet.js";

const chainId = Number(document.body.dataset.chainId || "0");
const contracts = JSON.parse(document.body.dataset.contracts || "{}");

function notice(text, kind = "info") {
  const box = document.getElementById("notice");
  box.hidden = false;
  box.className = `notice ${kind === "info" ? "" : kind}`;
  box.textContent = text;
}

function fail(error) {
  notice(wallet.describe(error), "error");
}

function showAccount(current) {
  const label = document.getElementById("wallet-account");
  const button = document.getElementById("connect");
  if (current) {
    label.hidden = false;
    label.textContent = `${current.address.slice(0, 6)}…${current.address.slice(-4)}`;
    label.title = current.address;
    button.textContent = "Sign out";
    document.getElementById("account-link").href = `/ui/participants/${current.address}`;
  } else {
    label.hidden = true;
    button.textContent = "Connect wallet";
  }
}

async function connect() {
  if (!chainId) throw new wallet.WalletError("The service does not know its chain: it cannot be reached.", "chain");
  const current = await wallet.connect(chainId);
  showAccount(current);
  document.dispatchEvent(new CustomEvent("fedmarket:connected", { detail: current }));
  return current;
}

async function signedIn() {
  return wallet.session() || connect();
}

function onConnectClick() {
  if (wallet.session()) {
    wallet.signOut();
    showAccount(null);
    notice("Signed out.");
    return;
  }
  connect().then((s) => notice(`Signed in as ${s.address}.`, "ok")).catch(fail);
}

// ---- transactions from the user's wallet -----------------------------------------------------
const PLANS = {
  buy: (b, account) => `/transactions/models/${b.dataset.model || document.getElementById("buybox").dataset.model}/buy?account=${account}`,
  claim: (b, account) => `/transactions/tasks/${b.dataset.task}/claim?account=${account}`,
  "claim-proceeds": (b, account) => `/transactions/models/${b.dataset.model}/claim-proceeds?account=${account}`,
  withdraw: (b, account) => `/transactions/withdraw/${b.dataset.contract}?account=${account}`,
  "withdraw-stake": (b, account) => `/transactions/tasks/${b.dataset.task}/withdraw-stake?account=${account}`,
  join: (b, account) => `/transactions/tasks/${b.dataset.task}/join?account=${account}`,
};

async function runPlan(button) {
  const current = await signedIn();
  if (button.dataset.owner && button.dataset.owner.toLowerCase() !== current.address.toLowerCase()) {
    throw new wallet.WalletError("This page is another account's: connect the wallet of this account to act on it.", "other_account");
  }
  await wallet.ensureChain(chainId);
  const plan = await wallet.api(PLANS[button.dataset.action](button, current.address));
  const receipts = await wallet.sendPlan(plan, current.address, (step, state) => {
    notice(`${step.label}: ${state === "signing" ? "confirm in your wallet…" : state === "sent" ? "sent, waiting for the chain…" : "done."}`);
  });
  const last = receipts[receipts.length - 1];
  notice("Confirmed on-chain; updating the page…", "ok");
  await wallet.waitIndexed(parseInt(last.blockNumber, 16) || Number(last.blockNumber));
  window.location.reload();
}

// ---- the model page: Buy, or Download once licensed ---------------------------------------------
async function refreshLicence(current) {
  const box = document.getElementById("buybox");
  if (!box) return;
  const buy = document.getElementById("buy");
  const download = document.getElementById("download");
  const state = document.getElementById("licence-state");
  if (!current || !buy) return;
  const account = await wallet.api(`/participants/${current.address}`);
  const held = account.licences.some((l) => l.kind === "model" && String(l.item_id) === box.dataset.model);
  buy.disabled = held;
  buy.hidden = held;
  if (download) download.hidden = !held;
  state.textContent = held ? "You hold a licence of this model." : "You do not hold a licence yet.";
}

async function downloadModel() {
  const current = await signedIn();
  const box = document.getElementById("buybox");
  if (!box.dataset.hash) throw new wallet.WalletError("The model's file has not been uploaded yet.", "no_content");
  const { downloadItem, saveBytes } = await import("/static/download.js");
  notice("Sign the one-time browser key in your wallet; the model is then decrypted here.");
  const result = await downloadItem({
    provider: wallet.provider(),
    account: current.address,
    token: current.token,
    kind: "model",
    id: Number(box.dataset.model),
    contract: box.dataset.market,
    chainId,
    expectedHash: box.dataset.hash,
  });
  saveBytes(result.bytes, `model-${box.dataset.model}.safetensors`);
  notice(`Downloaded ${result.bytes.length} bytes; keccak-256 ${result.hash} matches the recorded hash.`, "ok");
}

// ---- the listing form ------------------------------------------------------------------------------
function columnsOf(text) {
  return text.split("\n").map((l) => l.trim()).filter(Boolean).map((line) => {
    const [name, dtype, minimum, maximum] = line.split(",").map((p) => p.trim());
    const column = { name, dtype: dtype || "float" };
    if (minimum) column.minimum = Number(minimum);
    if (maximum) column.maximum = Number(maximum);
    return column;
  });
}

// A metadata file (fedmarket data describe) fills the form and adds its statistics and quality.
let loaded = null;

function columnsText(schema) {
  return schema.map((c) => [c.name, c.dtype, c.minimum ?? "", c.maximum ?? ""].join(",").replace(/,+$/, "")).join("\n");
}

async function loadMetadata(input) {
  const error = document.getElementById("metadata-error");
  const note = document.getElementById("metadata-loaded");
  error.hidden = true;
  loaded = null;
  const file = input.files && input.files[0];
  if (!file) return;
  let doc;
  try {
    doc = JSON.parse(await file.text());
    if (!doc || typeof doc !== "object" || !Array.isArray(doc.schema)) throw new Error("no schema");
  } catch (e) {
    error.hidden = false;
    error.textContent = "Not a metadata file: expected the JSON that fedmarket data describe writes.";
    input.setAttribute("aria-invalid", "true");
    return;
  }
  input.removeAttribute("aria-invalid");
  const form = document.getElementById("list-form");
  for (const field of ["name", "description", "license"]) {
    if (typeof doc[field] === "string") form.elements[field].value = doc[field];
  }
  if (Number.isInteger(doc.row_count)) form.elements.row_count.value = String(doc.row_count);
  if (Array.isArray(doc.tags)) form.elements.tags.value = doc.tags.join(", ");
  form.elements.columns.value = columnsText(doc.schema);
  loaded = { schema: doc.schema, columns: form.elements.columns.value, statistics: doc.statistics ?? null, quality: doc.quality ?? {} };
  note.hidden = false;
  note.textContent = `Loaded ${doc.schema.length} columns${doc.statistics ? " and their statistics" : ""} from ${file.name}.`;
}

function weiOf(tokens) {
  const text = (tokens || "0").trim();
  if (!/^\d+(\.\d{1,18})?$/.test(text)) throw new wallet.ApiError("price: enter a number of tokens, like 12.5", 422, "price_wei");
  const [whole, fraction = ""] = text.split(".");
  return (BigInt(whole) * 10n ** 18n + BigInt((fraction + "0".repeat(18)).slice(0, 18))).toString();
}

function showFieldError(error) {
  document.querySelectorAll("#list-form .field-error").forEach((p) => { p.hidden = true; p.textContent = ""; });
  document.querySelectorAll("#list-form [aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
  if (!error.field) return;
  const slot = document.getElementById(`${error.field}-error`);
  if (!slot) return;
  slot.hidden = false;
  slot.textContent = error.message;
  const input = document.querySelector(`#list-form [aria-describedby="${error.field}-error"]`);
  if (input) input.setAttribute("aria-invalid", "true");
}

function step(text, state = "") {
  const list = document.getElementById("list-steps");
  document.getElementById("list-progress").hidden = false;
  const item = document.createElement("li");
  item.textContent = text;
  if (state) item.className = state;
  list.appendChild(item);
  return item;
}

async function submitListing(event) {
  event.preventDefault();
  const form = event.target;
  const current = await signedIn();
  const data = new FormData(form);
  const access = data.get("access_mode");
  const draft = {
    name: data.get("name"),
    description: data.get("description") || "",
    owner: current.address,
    schema: loaded && loaded.columns === data.get("columns") ? loaded.schema : columnsOf(data.get("columns") || ""),
    row_count: Number(data.get("row_count")),
    license: data.get("license"),
    tags: (data.get("tags") || "").split(",").map((t) => t.trim().toLowerCase()).filter(Boolean),
    downloadable: access === "downloadable",
    access_mode: access,
    price_wei: weiOf(data.get("price")),
  };
  if (loaded && loaded.statistics) draft.statistics = loaded.statistics;
  if (loaded && loaded.quality) draft.quality = loaded.quality;
  const params = await wallet.api(`/datasets/signing-params?owner=${current.address}`);
  draft.deadline = params.deadline;
  draft.nonce = params.nonce;
  const typed = await wallet.api("/datasets/typed-data", { method: "POST", body: draft });
  step("Sign the listing in your wallet…");
  const signature = await wallet.signTypedData(current.address, typed);
  step("Signed. The service relays it to the DatasetRegistry…", "done");
  const relayed = await wallet.api("/datasets", { method: "POST", body: { ...draft, signature }, auth: true });
  step(`Recorded on-chain as dataset ${relayed.id} (transaction ${relayed.tx_hash.slice(0, 10)}…, block ${relayed.block}).`, "done");
  const indexed = await wallet.waitIndexed(relayed.block);
  const link = step("", "done");
  const anchor = document.createElement("a");
  anchor.href = `/ui/datasets/${relayed.id}`;
  anchor.id = "listed-link";
  anchor.textContent = indexed ? `Listed: see dataset ${relayed.id}` : `Relayed; dataset ${relayed.id} shows once indexed`;
  link.appendChild(anchor);
  notice(`Dataset ${relayed.id} listed.`, "ok");
}

// ---- wiring ------------------------------------------------------------------------------------------
function wire() {
  showAccount(wallet.session());
  document.getElementById("connect").addEventListener("click", onConnectClick);
  document.querySelectorAll("[data-action]").forEach((button) => {
    button.addEventListener("click", () => {
      button.disabled = true;
      const work = button.dataset.action === "download" ? downloadModel() : runPlan(button);
      work.catch(fail).finally(() => { button.disabled = false; });
    });
  });
  const form = document.getElementById("list-form");
  if (form) {
    document.getElementById("metadata-file").addEventListener("change", (e) => { loadMetadata(e.target).catch(fail); });
    form.addEventListener("submit", (event) => {
      submitListing(event).catch((error) => { showFieldError(error); step(wallet.describe(error), "failed"); fail(error); });
    });
  }
  const audit = document.getElementById("audit");
  if (audit) {
    fetch(audit.dataset.src).then((r) => r.text()).then((html) => { audit.innerHTML = html; })
      .catch(() => { audit.textContent = "The audit could not be loaded."; });
  }
  if (document.getElementById("buybox")) {
    const current = wallet.session();
    const buy = document.getElementById("buy");
    if (buy) buy.disabled = false;
    refreshLicence(current).catch(fail);
    document.addEventListener("fedmarket:connected", (e) => refreshLicence(e.detail).catch(fail));
  }
  if (document.getElementById("account-prompt")) {
    const current = wallet.session();
    if (current) window.location.replace(`/ui/participants/${current.address}`);
    document.addEventListener("fedmarket:connected", (e) => window.location.replace(`/ui/participants/${e.detail.address}`));
  }
  if (window.ethereum && window.ethereum.on) {
    window.ethereum.on("accountsChanged", () => { wallet.signOut(); showAccount(null); });
  }
}

void contracts;
wire();
