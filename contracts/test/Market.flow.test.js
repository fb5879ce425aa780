// End-to-end flows of the fedmarket marketplace on Hardhat's simulated chain, driven through viem the way the
// Python client and the marketplace API drive the contracts: a dataset listed by a relayed EIP-712 signature
// (DatasetRegistry v2), bought and withdrawn; a completed task's model listed, bought by two buyers, its
// proceeds claimed by the contributors and the sponsor's cut withdrawn. FedTask is stood in for by
// contracts/test/mocks/MockFedTask.sol (the market reads only IFedTaskReader). Run: `npx hardhat test nodejs`.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { network } from "hardhat";
import { getAddress, keccak256, maxUint256, parseEther, toHex } from "viem";

const { viem, networkHelpers } = await network.create();

const AccessMode = { FederatedOnly: 0, Downloadable: 1 };
const FEE_BPS = 250;
const hash = (text) => keccak256(toHex(text));

const LIST_DATASET_TYPES = {
  ListDataset: [
    { name: "owner", type: "address" },
    { name: "metadataHash", type: "bytes32" },
    { name: "metadataCid", type: "string" },
    { name: "accessMode", type: "uint8" },
    { name: "price", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

async function deployFixture() {
  const [deployer, admin, fees, sponsor, alice, bob, owner, relayer, buyer, buyer2] = await viem.getWalletClients();
  const publicClient = await viem.getPublicClient();
  const token = await viem.deployContract("RewardToken", [deployer.account.address, parseEther("1000000000")]);
  const fedTask = await viem.deployContract("MockFedTask");
  const registry = await viem.deployContract("DatasetRegistry", [
    token.address, admin.account.address, fees.account.address, FEE_BPS,
  ]);
  const market = await viem.deployContract("ModelMarket", [
    token.address, fedTask.address, admin.account.address, fees.account.address, FEE_BPS,
  ]);
  for (const wallet of [buyer, buyer2]) {
    await token.write.mint([wallet.account.address, parseEther("1000")]);
  }
  return {
    publicClient, token, fedTask, registry, market, admin, fees, sponsor, alice, bob, owner, relayer, buyer, buyer2,
  };
}

/** Calls `contract.write[fn](args)` as `wallet`. */
function as(wallet, contract, fn, args = []) {
  return contract.write[fn](args, { account: wallet.account });
}

describe("DatasetRegistry v2 flow (viem)", () => {
  it("lists a downloadable dataset from a relayed EIP-712 signature, sells it and pays out", async () => {
    const { publicClient, token, registry, fees, owner, relayer, buyer } = await networkHelpers.loadFixture(deployFixture);
    const ownerAddress = owner.account.address;
    const chainId = await publicClient.getChainId();
    const { timestamp } = await publicClient.getBlock();
    const deadline = timestamp + 3600n;
    const price = parseEther("40");
    const message = {
      owner: ownerAddress, metadataHash: hash("dataset.json"), metadataCid: "bafkreidataset",
      accessMode: AccessMode.Downloadable, price, nonce: 0n, deadline,
    };
    const domain = { name: "FedMarket DatasetRegistry", version: "2", chainId, verifyingContract: registry.address };
    const signature = await owner.signTypedData({ domain, types: LIST_DATASET_TYPES, primaryType: "ListDataset", message });
    const args = [ownerAddress, message.metadataHash, message.metadataCid, message.accessMode, price, deadline, signature];

    await viem.assertions.emitWithArgs(as(relayer, registry, "listDatasetFor", args), registry, "DatasetListed", [
      1n, getAddress(ownerAddress), message.metadataHash, message.metadataCid, AccessMode.Downloadable, price,
    ]);
    const listing = await registry.read.getListing([1n]);
    assert.equal(listing.owner, getAddress(ownerAddress));
    assert.equal(listing.accessMode, AccessMode.Downloadable);
    assert.equal(listing.price, price);
    assert.equal(await registry.read.datasetIdOf([ownerAddress, message.metadataHash]), 1n);

    // Replaying the signature fails: the nonce has moved on.
    await viem.assertions.revertWithCustomError(as(relayer, registry, "listDatasetFor", args), registry, "RegistryInvalidSigner");

    // A signature the owner cancelled with useNonce() never lists.
    const cancelled = { ...message, metadataHash: hash("second.json"), nonce: 1n };
    const cancelledSignature = await owner.signTypedData({
      domain, types: LIST_DATASET_TYPES, primaryType: "ListDataset", message: cancelled,
    });
    await viem.assertions.emitWithArgs(as(owner, registry, "useNonce"), registry, "NonceUsed", [getAddress(ownerAddress), 1n]);
    await viem.assertions.revertWithCustomError(
      as(relayer, registry, "listDatasetFor", [
        ownerAddress, cancelled.metadataHash, cancelled.metadataCid, cancelled.accessMode, price, deadline,
        cancelledSignature,
      ]),
      registry,
      "RegistryInvalidSigner",
    );

    // A sale: 2.5 % fee, the rest to the owner; the licence is recorded.
    await as(buyer, token, "approve", [registry.address, price]);
    const fee = (price * BigInt(FEE_BPS)) / 10_000n;
    await viem.assertions.emitWithArgs(as(buyer, registry, "buyDataset", [1n, maxUint256]), registry, "DatasetBought", [
      1n, getAddress(buyer.account.address), price, fee, price - fee,
    ]);
    assert.equal(await registry.read.hasLicence([1n, buyer.account.address]), true);
    await viem.assertions.revertWithCustomErrorWithArgs(
      as(buyer, registry, "buyDataset", [1n, maxUint256]),
      registry,
      "RegistryAlreadyLicensed",
      [1n, getAddress(buyer.account.address)],
    );

    await as(owner, registry, "withdraw");
    await as(fees, registry, "withdraw");
    assert.equal(await token.read.balanceOf([ownerAddress]), price - fee);
    assert.equal(await token.read.balanceOf([fees.account.address]), fee);
    assert.equal(await token.read.balanceOf([registry.address]), 0n);
  });

  it("refuses to sell a federated-only dataset and lets a squatter block nobody", async () => {
    const { registry, owner, relayer, buyer } = await networkHelpers.loadFixture(deployFixture);
    const metadataHash = hash("federated.json");
    await as(relayer, registry, "listDataset", [metadataHash, "bafkreicopy", AccessMode.FederatedOnly, 0n]);
    await as(owner, registry, "listDataset", [metadataHash, "bafkreifederated", AccessMode.FederatedOnly, 0n]);
    assert.equal(await registry.read.datasetIdOf([owner.account.address, metadataHash]), 2n);
    await viem.assertions.revertWithCustomErrorWithArgs(
      as(buyer, registry, "buyDataset", [2n, maxUint256]),
      registry,
      "RegistryNotDownloadable",
      [2n],
    );
  });
});

describe("ModelMarket flow (viem)", () => {
  it("lists a final task's model, sells it twice and pays contributors, sponsor and protocol", async () => {
    const { token, fedTask, market, fees, sponsor, alice, bob, buyer, buyer2 } =
      await networkHelpers.loadFixture(deployFixture);
    const taskId = 1n;
    const price = parseEther("100");
    const sponsorBps = 2_000;

    // Not final yet: refused.
    await fedTask.write.setSponsor([taskId, sponsor.account.address]);
    await viem.assertions.revertWithCustomErrorWithArgs(
      as(sponsor, market, "listModel", [taskId, price, sponsorBps, "bafkreicard", hash("card")]),
      market,
      "MarketTaskNotFinal",
      [taskId],
    );
    await fedTask.write.setCompleted([
      taskId, sponsor.account.address, [alice.account.address, bob.account.address], [7_000, 3_000],
    ]);
    await viem.assertions.emitWithArgs(
      as(sponsor, market, "listModel", [taskId, price, sponsorBps, "bafkreicard", hash("card")]),
      market,
      "ModelListed",
      [1n, taskId, getAddress(sponsor.account.address), price, sponsorBps, "bafkreicard", hash("card")],
    );

    // Two sales: fee 2.5e18, sponsor 20e18, contributors 77.5e18 each.
    for (const wallet of [buyer, buyer2]) {
      await as(wallet, token, "approve", [market.address, price]);
      await viem.assertions.emitWithArgs(as(wallet, market, "buy", [1n, maxUint256]), market, "ModelBought", [
        1n, getAddress(wallet.account.address), price, parseEther("2.5"), parseEther("20"), parseEther("77.5"),
      ]);
    }
    await viem.assertions.revertWithCustomErrorWithArgs(
      as(buyer, market, "buy", [1n, maxUint256]),
      market,
      "MarketAlreadyLicensed",
      [1n, getAddress(buyer.account.address)],
    );
    const [atBlock, pricePaid] = await market.read.licenceOf([1n, buyer.account.address]);
    assert.ok(atBlock > 0n);
    assert.equal(pricePaid, price);

    // Claims by share, exact to the wei; a second claim has nothing left.
    await viem.assertions.emitWithArgs(as(alice, market, "claimProceeds", [1n]), market, "ProceedsClaimed", [
      1n, getAddress(alice.account.address), parseEther("108.5"),
    ]);
    await as(bob, market, "claimProceeds", [1n]);
    await viem.assertions.revertWithCustomErrorWithArgs(
      as(bob, market, "claimProceeds", [1n]),
      market,
      "MarketNothingToClaim",
      [1n, getAddress(bob.account.address)],
    );
    assert.equal(await token.read.balanceOf([alice.account.address]), parseEther("108.5"));
    assert.equal(await token.read.balanceOf([bob.account.address]), parseEther("46.5"));

    await as(sponsor, market, "withdraw");
    await as(fees, market, "withdraw");
    assert.equal(await token.read.balanceOf([sponsor.account.address]), parseEther("40"));
    assert.equal(await token.read.balanceOf([fees.account.address]), parseEther("5"));
    assert.equal(await token.read.balanceOf([market.address]), 0n);
  });

  it("caps the protocol fee and keeps claims open during a pause", async () => {
    const { token, fedTask, market, admin, sponsor, alice, buyer } = await networkHelpers.loadFixture(deployFixture);
    await viem.assertions.revertWithCustomErrorWithArgs(
      as(admin, market, "setFeeBps", [1_001]),
      market,
      "MarketFeeTooHigh",
      [1_001n, 1_000n],
    );
    await fedTask.write.setCompleted([2n, sponsor.account.address, [alice.account.address], [10_000]]);
    await as(sponsor, market, "listModel", [2n, 1_000_000n, 0, "bafkreicard", hash("card")]);
    await as(buyer, token, "approve", [market.address, 1_000_000n]);
    await as(buyer, market, "buy", [1n, maxUint256]);
    await as(admin, market, "pause");
    await viem.assertions.revertWithCustomError(as(buyer, market, "buy", [1n, maxUint256]), market, "EnforcedPause");
    await as(alice, market, "claimProceeds", [1n]);
    // 1,000,000 wei: fee 25,000, contributors 970,000 (a multiple of 10,000), residue 5,000 to the sponsor.
    assert.equal(await token.read.balanceOf([alice.account.address]), 970_000n);
    assert.equal(await market.read.withdrawable([sponsor.account.address]), 5_000n);
  });
});
