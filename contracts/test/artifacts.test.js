// chain/artifacts/*.json (the Python package's deployable ABI + bytecode) must match a fresh build.
// `npx hardhat test` builds first, so this fails whenever a contract changed without `npm run artifacts`.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";

import { artifacts } from "hardhat";

import { EXPORTED_CONTRACTS, OUT_DIR, diffExports, renderExports, writeExports } from "../../scripts/export-artifacts.mjs";

/** Runs `body` with a scratch directory holding a fresh export, removed afterwards. */
async function withFreshExport(fresh, body) {
  const dir = await mkdtemp(path.join(tmpdir(), "fedmarket-artifacts-"));
  try {
    await writeExports(fresh, dir);
    assert.deepEqual(await diffExports(fresh, dir), [], "a fresh export has no differences");
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("chain/artifacts", () => {
  it("matches a fresh build (run `npm run artifacts` if this fails)", async () => {
    const problems = await diffExports(await renderExports(artifacts), OUT_DIR);
    assert.deepEqual(problems, [], `chain/artifacts is stale:\n  ${problems.join("\n  ")}`);
  });

  it("holds the deployable contracts with the compiler settings they were built with", async () => {
    for (const name of EXPORTED_CONTRACTS) {
      const text = await readFile(path.join(OUT_DIR, `${name}.json`), "utf8");
      assert.ok(text.endsWith("}\n"), `${name}.json ends with a newline`);
      const document = JSON.parse(text);
      assert.deepEqual(Object.keys(document), [
        "contractName", "sourceName", "abi", "bytecode", "deployedBytecode", "compiler",
      ]);
      assert.equal(document.contractName, name);
      assert.equal(document.sourceName, `contracts/${name}.sol`);
      assert.match(document.bytecode, /^0x[0-9a-f]+$/);
      assert.match(document.deployedBytecode, /^0x[0-9a-f]+$/);
      assert.match(document.compiler.version, /^0\.8\.37\+commit\.[0-9a-f]+$/);
      assert.deepEqual(document.compiler.settings, { optimizer: { enabled: true, runs: 200 }, evmVersion: "prague" });
    }
  });

  it("reports a stale bytecode, a changed ABI, a missing file and an extra file", async () => {
    const fresh = await renderExports(artifacts);
    const problems = await withFreshExport(fresh, async (dir) => {
      const fedTask = JSON.parse(await readFile(path.join(dir, "FedTask.json"), "utf8"));
      fedTask.bytecode = `${fedTask.bytecode}00`;
      await writeFile(path.join(dir, "FedTask.json"), `${JSON.stringify(fedTask, null, 2)}\n`);
      const registry = JSON.parse(await readFile(path.join(dir, "DatasetRegistry.json"), "utf8"));
      registry.abi = registry.abi.filter((entry) => entry.name !== "delistDataset");
      await writeFile(path.join(dir, "DatasetRegistry.json"), `${JSON.stringify(registry, null, 2)}\n`);
      await rm(path.join(dir, "RewardToken.json"));
      await writeFile(path.join(dir, "Old.json"), "{}\n");
      return diffExports(fresh, dir);
    });
    const byFile = Object.fromEntries(problems.map((line) => [line.slice(0, line.indexOf(":")), line]));
    assert.deepEqual(
      Object.keys(byFile).sort(),
      ["DatasetRegistry.json", "FedTask.json", "Old.json", "RewardToken.json"],
    );
    assert.equal(byFile["DatasetRegistry.json"], "DatasetRegistry.json: abi changed (+function delistDataset)");
    assert.match(byFile["FedTask.json"], /^FedTask\.json: bytecode changed \(\d+ -> \d+ bytes\)$/);
    assert.equal(byFile["RewardToken.json"], "RewardToken.json: missing");
    assert.equal(byFile["Old.json"], "Old.json: not produced by the build (remove it)");
  });

  it("ignores a difference in solc's metadata hash alone (builds with and without the tests differ there)", async () => {
    const fresh = await renderExports(artifacts);
    const problems = await withFreshExport(fresh, async (dir) => {
      const file = path.join(dir, "FedTask.json");
      const text = await readFile(file, "utf8");
      const rehashed = text.replace(/(a264697066735822)([0-9a-f]{68})/g, (_m, tag) => tag + "ab".repeat(34));
      assert.notEqual(rehashed, text);
      await writeFile(file, rehashed);
      return diffExports(fresh, dir);
    });
    assert.deepEqual(problems, []);
  });

  it("reports a formatting-only difference", async () => {
    const fresh = await renderExports(artifacts);
    const problems = await withFreshExport(fresh, async (dir) => {
      const file = path.join(dir, "FedTask.json");
      await writeFile(file, JSON.stringify(JSON.parse(await readFile(file, "utf8"))));
      return diffExports(fresh, dir);
    });
    assert.deepEqual(problems, ["FedTask.json: formatting differs (key order, indentation or trailing newline)"]);
  });
});
