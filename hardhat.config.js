// Hardhat 3 configuration of the fedmarket contracts.
//
// The compiler is the local solc-js (WASM) from node_modules, so builds work offline.
// Contracts live in contracts/, Solidity tests (*.t.sol) and node:test tests (*.test.js)
// in contracts/test/. Run: `npx hardhat build`, `npx hardhat test`.
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";

import hardhatToolboxViem from "@nomicfoundation/hardhat-toolbox-viem";
import { defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);

/** Compiler settings shared by every build profile; also recorded in chain/artifacts/. */
export const SOLC_VERSION = "0.8.37";
export const SOLC_SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "prague",
};

/**
 * Fuzz seed of the `ci` test profile: a fresh one on every run (FUZZ_SEED=0x... replays a failing run),
 * printed so that any counterexample can be reproduced. The default profile keeps a fixed seed.
 */
export const CI_FUZZ_SEED = process.env.FUZZ_SEED ?? `0x${randomBytes(32).toString("hex")}`;

const argv = process.argv;
const profileArg = argv.find((arg) => arg.startsWith("--test-profile="))?.split("=")[1];
const profileAt = argv.indexOf("--test-profile");
const profile = profileArg ?? (profileAt >= 0 ? argv[profileAt + 1] : undefined);
if (profile === "ci" || profile === "deep") {
  console.log(`${profile} test profile: fuzz seed ${CI_FUZZ_SEED} (replay with FUZZ_SEED=${CI_FUZZ_SEED})`);
}

export default defineConfig({
  plugins: [hardhatToolboxViem],
  solidity: {
    version: SOLC_VERSION,
    path: require.resolve("solc/soljson.js"),
    settings: SOLC_SETTINGS,
  },
  paths: {
    sources: "contracts",
    tests: {
      solidity: "contracts/test",
      nodejs: "contracts/test",
    },
  },
  test: {
    solidity: {
      profiles: {
        // Runs in every `npx hardhat test`: fixed seed, a few hundred runs.
        default: {
          fuzz: { runs: 256, seed: "0x2a" },
          invariant: { runs: 128, depth: 128, failOnRevert: true },
        },
        // `npm run test:ci` (scripts/test): a fresh seed each run, so every CI run explores new inputs.
        ci: {
          fuzz: { runs: 2_500, seed: CI_FUZZ_SEED },
          invariant: { runs: 128, depth: 256, failOnRevert: true },
        },
        // `npm run test:deep` (scripts/fuzz): a fresh seed, 10,000 fuzz runs, long multi-call sequences.
        deep: {
          fuzz: { runs: 10_000, seed: CI_FUZZ_SEED },
          invariant: { runs: 256, depth: 512, failOnRevert: true },
        },
      },
    },
  },
});
