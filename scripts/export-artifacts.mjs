#!/usr/bin/env node
// Exports the ABI and bytecode of the deployable contracts to chain/artifacts/<Name>.json, the package
// data the Python `chain` package deploys from (no Node needed at run time).
//
//   node scripts/export-artifacts.mjs           build, then (re)write chain/artifacts/*.json
//   node scripts/export-artifacts.mjs --check   build, write nothing; exit 1 if chain/artifacts is stale
//
// Each file is {contractName, sourceName, abi, bytecode, deployedBytecode, compiler: {version, settings:
// {optimizer, evmVersion}}} with that key order, two-space indentation and a trailing newline.
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The contracts the Python side deploys, in deployment order. */
export const EXPORTED_CONTRACTS = ["RewardToken", "DatasetRegistry", "FedTask", "ChallengeCourt", "ModelMarket"];

/** Repository root (this file lives in scripts/). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Where the exported files go. */
export const OUT_DIR = path.join(ROOT, "chain", "artifacts");

/**
 * Builds the exported document of each contract from Hardhat's artifacts and build info.
 *
 * @param {import("hardhat/types/artifacts").ArtifactManager} artifacts Hardhat's artifact manager.
 * @returns {Promise<Map<string, string>>} File name -> file text.
 */
export async function renderExports(artifacts) {
  const files = new Map();
  for (const name of EXPORTED_CONTRACTS) {
    const fqn = `contracts/${name}.sol:${name}`;
    const artifact = await artifacts.readArtifact(fqn);
    const buildInfoId = await artifacts.getBuildInfoId(fqn);
    const buildInfoPath = buildInfoId && (await artifacts.getBuildInfoPath(buildInfoId));
    if (!buildInfoPath) {
      throw new Error(`no build info for ${fqn}; run \`npx hardhat build\``);
    }
    const buildInfo = JSON.parse(await readFile(buildInfoPath, "utf8"));
    const { optimizer, evmVersion } = buildInfo.input.settings;
    const document = {
      contractName: artifact.contractName,
      sourceName: artifact.sourceName,
      abi: artifact.abi,
      bytecode: artifact.bytecode,
      deployedBytecode: artifact.deployedBytecode,
      compiler: {
        version: buildInfo.solcLongVersion,
        settings: {
          optimizer: { enabled: optimizer.enabled, runs: optimizer.runs },
          evmVersion,
        },
      },
    };
    files.set(`${name}.json`, `${JSON.stringify(document, null, 2)}\n`);
  }
  return files;
}

/** solc's CBOR metadata trailer: `{ipfs: <34-byte multihash>, solc: <version>}`. */
const METADATA_TRAILER = /a264697066735822[0-9a-f]{68}64736f6c6343[0-9a-f]{6}0033/g;

/**
 * The exported document's text with every metadata hash in its bytecode zeroed. The hash covers solc's
 * metadata JSON, which also records the build's remappings: a build with the tests and one without give
 * the same code with different hashes. What the Python side deploys and runs is the code, so the check
 * compares that (and still sees any difference of formatting).
 *
 * @param {string} text An exported document.
 * @returns {string} The same text, metadata hashes zeroed.
 */
function withoutMetadataHashes(text) {
  return text.replace(METADATA_TRAILER, (m) => m.slice(0, 16) + "0".repeat(68) + m.slice(84));
}

/**
 * Compares freshly rendered files with those in a directory (bytecode compared without metadata hashes).
 *
 * @param {Map<string, string>} expected File name -> fresh text.
 * @param {string} dir Directory holding the committed files.
 * @returns {Promise<string[]>} One readable line per difference; empty when up to date.
 */
export async function diffExports(expected, dir) {
  const problems = [];
  let present = [];
  try {
    present = (await readdir(dir)).filter((f) => f.endsWith(".json"));
  } catch (error) {
    if (error.code !== "ENOENT") throw error;
  }
  for (const [file, text] of expected) {
    if (!present.includes(file)) {
      problems.push(`${file}: missing`);
      continue;
    }
    const committed = await readFile(path.join(dir, file), "utf8");
    if (committed !== text && withoutMetadataHashes(committed) !== withoutMetadataHashes(text)) {
      problems.push(`${file}: ${describeChange(committed, text)}`);
    }
  }
  for (const file of present) {
    if (!expected.has(file)) problems.push(`${file}: not produced by the build (remove it)`);
  }
  return problems;
}

/**
 * Says which top-level parts of an exported document changed.
 *
 * @param {string} committedText The committed file.
 * @param {string} freshText The fresh rendering.
 * @returns {string} A short description.
 */
function describeChange(committedText, freshText) {
  let committed;
  try {
    committed = JSON.parse(committedText);
  } catch {
    return "not valid JSON";
  }
  const fresh = JSON.parse(freshText);
  const changed = Object.keys(fresh).filter(
    (key) => JSON.stringify(committed[key]) !== JSON.stringify(fresh[key]),
  );
  if (changed.length === 0) return "formatting differs (key order, indentation or trailing newline)";
  const details = changed.map((key) => {
    if (key === "abi") {
      const names = (abi) => new Set((abi ?? []).map((e) => `${e.type} ${e.name ?? ""}`.trim()));
      const before = names(committed.abi);
      const after = names(fresh.abi);
      const added = [...after].filter((n) => !before.has(n));
      const removed = [...before].filter((n) => !after.has(n));
      const parts = [];
      if (added.length) parts.push(`+${added.join(", +")}`);
      if (removed.length) parts.push(`-${removed.join(", -")}`);
      return `abi changed${parts.length ? ` (${parts.join("; ")})` : " (signatures or order)"}`;
    }
    if (key === "bytecode" || key === "deployedBytecode") {
      const size = (hex) => (typeof hex === "string" ? (hex.length - 2) / 2 : 0);
      return `${key} changed (${size(committed[key])} -> ${size(fresh[key])} bytes)`;
    }
    return `${key} changed`;
  });
  return details.join("; ");
}

/**
 * Writes the rendered files into `dir`.
 *
 * @param {Map<string, string>} files File name -> text.
 * @param {string} dir Target directory (created when missing).
 */
export async function writeExports(files, dir) {
  await mkdir(dir, { recursive: true });
  for (const [file, text] of files) {
    await writeFile(path.join(dir, file), text);
  }
}

async function main(argv) {
  const check = argv.includes("--check");
  const unknown = argv.filter((a) => a !== "--check");
  if (unknown.length > 0) {
    console.error(`usage: node scripts/export-artifacts.mjs [--check]  (unknown: ${unknown.join(" ")})`);
    return 2;
  }
  process.chdir(ROOT);
  const { default: hre } = await import("hardhat");
  await hre.tasks.getTask("build").run({ quiet: true });
  const files = await renderExports(hre.artifacts);
  const relativeOut = path.relative(ROOT, OUT_DIR);
  if (!check) {
    await writeExports(files, OUT_DIR);
    console.log(`wrote ${[...files.keys()].map((f) => path.join(relativeOut, f)).join(", ")}`);
    return 0;
  }
  const problems = await diffExports(files, OUT_DIR);
  if (problems.length === 0) {
    console.log(`${relativeOut} is up to date (${files.size} contracts)`);
    return 0;
  }
  console.error(`${relativeOut} is stale:`);
  for (const line of problems) console.error(`  - ${line}`);
  console.error("run `npm run artifacts` and commit the result");
  return 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
