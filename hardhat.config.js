// Hardhat 3 configuration of the fedmarket contracts.
//
// The compiler is the local solc-js (WASM) from node_modules, so builds work offline.
// Contracts live in contracts/, Solidity tests (*.t.sol) and node:test tests (*.test.js)
// in contracts/test/. Run: `npx hardhat build`, `npx hardhat test`.
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
        default: {
          fuzz: { runs: 256, seed: "0x2a" },
          invariant: { runs: 128, depth: 128, failOnRevert: true },
        },
        ci: {
          fuzz: { runs: 2000, seed: "0xc1" },
          invariant: { runs: 256, depth: 256, failOnRevert: true },
        },
      },
    },
  },
});
