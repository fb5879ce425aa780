// End-to-end flow of a fedmarket task on Hardhat's simulated chain, driven through viem the way the
// Python client drives the contracts: deploy, run a two-round task, read the events back, claim, withdraw.
// (The relayed dataset listing moved to Market.flow.test.js with DatasetRegistry v2.) Run: `npx hardhat test nodejs`.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { network } from "hardhat";
import { getAddress, keccak256, parseEther, toHex } from "viem";

const { viem, networkHelpers } = await network.create();

const TaskStatus = { None: 0, Joining: 1, Training: 2, Completed: 3, Cancelled: 4 };
const hash = (text) => keccak256(toHex(text));

async function deployFixture() {
  const [deployer, coordinator, alice, bob, carol, relayer] = await viem.getWalletClients();
  const publicClient = await viem.getPublicClient();
  const token = await viem.deployContract("RewardToken", [deployer.account.address, parseEther("1000000000")]);
  const fedTask = await viem.deployContract("FedTask", [token.address]);
  await token.write.mint([deployer.account.address, parseEther("1000")]);
  await token.write.approve([fedTask.address, parseEther("1000")]);
  return { publicClient, token, fedTask, deployer, coordinator, alice, bob, carol, relayer };
}

/** Calls `contract.write[fn](args)` as `wallet`. */
function as(wallet, contract, fn, args = []) {
  return contract.write[fn](args, { account: wallet.account });
}

describe("FedTask flow (viem)", () => {
  it("runs a two-round task end to end and reports it through events", async () => {
    const { publicClient, token, fedTask, deployer, coordinator, alice, bob, carol } =
      await networkHelpers.loadFixture(deployFixture);
    const sponsor = deployer.account.address;
    const fromBlock = await publicClient.getBlockNumber();

    // Create: the pool moves into escrow.
    await viem.assertions.emitWithArgs(
      fedTask.write.createTask(["bafkreispec", hash("spec"), coordinator.account.address, parseEther("600"), 2, 3]),
      fedTask,
      "TaskCreated",
      [
        1n, getAddress(sponsor), getAddress(coordinator.account.address), parseEther("600"), 2, 3,
        "bafkreispec", hash("spec"),
      ],
    );
    assert.equal(await token.read.balanceOf([fedTask.address]), parseEther("600"));

    // Join: the join order is the order of the scores.
    for (const wallet of [alice, bob, carol]) await as(wallet, fedTask, "joinTask", [1n]);
    const joined = await publicClient.getContractEvents({
      address: fedTask.address, abi: fedTask.abi, eventName: "TaskJoined", fromBlock, strict: true,
    });
    assert.deepEqual(
      joined.map((e) => [e.args.participant, e.args.index]),
      [[alice, 0], [bob, 1], [carol, 2]].map(([w, i]) => [getAddress(w.account.address), i]),
    );
    assert.deepEqual(
      await fedTask.read.getParticipants([1n]),
      [alice, bob, carol].map((w) => getAddress(w.account.address)),
    );

    // Round 1: carol submits nothing and scores 0.
    await as(coordinator, fedTask, "openRound", [1n, 1, "bafkreimodel0", hash("model-0")]);
    await as(alice, fedTask, "submitUpdate", [1n, 1, hash("alice-1"), "bafkreialice1", 600n]);
    await as(bob, fedTask, "submitUpdate", [1n, 1, hash("bob-1"), "bafkreibob1", 200n]);
    await as(coordinator, fedTask, "finalizeRound", [
      1n, 1, "bafkreimodel1", hash("model-1"), "bafkreievidence1", [3n, 1n, 0n], parseEther("200"),
    ]);

    // Round 2: everyone submits and scores the same; the task completes.
    await as(coordinator, fedTask, "openRound", [1n, 2, "bafkreimodel1", hash("model-1")]);
    for (const wallet of [alice, bob, carol]) {
      await as(wallet, fedTask, "submitUpdate", [1n, 2, hash(`${wallet.account.address}-2`), "bafkreiupd2", 100n]);
    }
    await viem.assertions.emitWithArgs(
      as(coordinator, fedTask, "finalizeRound", [
        1n, 2, "bafkreimodel2", hash("model-2"), "bafkreievidence2", [1n, 1n, 1n], parseEther("300"),
      ]),
      fedTask,
      "TaskCompleted",
      [1n, "bafkreimodel2", hash("model-2")],
    );

    // The allocations, read back from the chain as the Python client does.
    const allocations = await publicClient.getContractEvents({
      address: fedTask.address, abi: fedTask.abi, eventName: "RewardAllocated", args: { taskId: 1n },
      fromBlock, strict: true,
    });
    assert.deepEqual(
      allocations.map((e) => [e.args.round, e.args.participant, e.args.score, e.args.amount]),
      [
        [1, alice, 3n, parseEther("150")],
        [1, bob, 1n, parseEther("50")],
        [1, carol, 0n, 0n],
        [2, alice, 1n, parseEther("100")],
        [2, bob, 1n, parseEther("100")],
        [2, carol, 1n, parseEther("100")],
      ].map(([round, w, score, amount]) => [round, getAddress(w.account.address), score, amount]),
    );
    const finalized = await publicClient.getContractEvents({
      address: fedTask.address, abi: fedTask.abi, eventName: "RoundFinalized", fromBlock, strict: true,
    });
    assert.deepEqual(
      finalized.map((e) => [e.args.round, e.args.modelCid, e.args.evidenceCid, e.args.budget, e.args.paid]),
      [
        [1, "bafkreimodel1", "bafkreievidence1", parseEther("200"), parseEther("200")],
        [2, "bafkreimodel2", "bafkreievidence2", parseEther("300"), parseEther("300")],
      ],
    );
    const submitted = await publicClient.getContractEvents({
      address: fedTask.address, abi: fedTask.abi, eventName: "UpdateSubmitted", args: { round: 1 },
      fromBlock, strict: true,
    });
    assert.deepEqual(
      submitted.map((e) => [e.args.updateCid, e.args.samples]),
      [["bafkreialice1", 600n], ["bafkreibob1", 200n]],
    );

    const task = await fedTask.read.getTask([1n]);
    assert.equal(task.status, TaskStatus.Completed);
    assert.equal(task.currentRound, 2);
    assert.equal(task.roundOpen, false);
    assert.equal(task.escrow, parseEther("100"));
    assert.equal(task.modelCid, "bafkreimodel2");
    assert.equal(task.modelHash, hash("model-2"));
    const [updateHash, samples, wasSubmitted] = await fedTask.read.getUpdate([1n, 1, alice.account.address]);
    assert.deepEqual([updateHash, samples, wasSubmitted], [hash("alice-1"), 600n, true]);

    // Escrow invariant: balance == escrow + owed.
    const owed = await Promise.all([alice, bob, carol].map((w) => fedTask.read.owed([w.account.address])));
    assert.equal(
      await token.read.balanceOf([fedTask.address]),
      task.escrow + owed.reduce((a, b) => a + b, 0n),
    );

    // Pull payments and the sponsor's remainder.
    await viem.assertions.emitWithArgs(as(alice, fedTask, "claimRewards"), fedTask, "RewardsClaimed", [
      getAddress(alice.account.address), parseEther("250"),
    ]);
    assert.equal(await token.read.balanceOf([alice.account.address]), parseEther("250"));
    await viem.assertions.revertWithCustomErrorWithArgs(
      as(alice, fedTask, "claimRewards"),
      fedTask,
      "TaskNothingToClaim",
      [getAddress(alice.account.address)],
    );
    await viem.assertions.emitWithArgs(fedTask.write.withdrawRemainder([1n]), fedTask, "RemainderWithdrawn", [
      1n, getAddress(sponsor), parseEther("100"),
    ]);
    assert.equal(await token.read.balanceOf([sponsor]), parseEther("500"));
    assert.equal(
      await token.read.balanceOf([fedTask.address]),
      parseEther("150") + parseEther("100"), // bob's and carol's unclaimed rewards
    );
  });

  it("rejects invalid calls with the custom errors the Python client decodes", async () => {
    const { fedTask, coordinator, alice } = await networkHelpers.loadFixture(deployFixture);
    await viem.assertions.revertWithCustomErrorWithArgs(
      fedTask.write.createTask(["spec", hash("spec"), coordinator.account.address, 1n, 1, 257]),
      fedTask,
      "TaskInvalidConfig",
      ["maxParticipants"],
    );
    await fedTask.write.createTask(["spec", hash("spec"), coordinator.account.address, 1n, 1, 1]);
    await viem.assertions.revertWithCustomErrorWithArgs(
      as(coordinator, fedTask, "openRound", [1n, 1, "m", hash("m")]),
      fedTask,
      "TaskNoParticipants",
      [1n],
    );
    await as(alice, fedTask, "joinTask", [1n]);
    await viem.assertions.revertWithCustomErrorWithArgs(
      as(coordinator, fedTask, "openRound", [1n, 2, "m", hash("m")]),
      fedTask,
      "TaskRoundOutOfOrder",
      [1n, 1, 2],
    );
    await as(coordinator, fedTask, "openRound", [1n, 1, "m", hash("m")]);
    await viem.assertions.revertWithCustomErrorWithArgs(
      fedTask.write.cancelTask([1n]),
      fedTask,
      "TaskNotJoining",
      [1n, TaskStatus.Training],
    );
    await viem.assertions.revertWithCustomErrorWithArgs(
      as(coordinator, fedTask, "finalizeRound", [1n, 1, "m1", hash("m1"), "e", [1n], 0n]),
      fedTask,
      "TaskScoreWithoutUpdate",
      [1n, 1, getAddress(alice.account.address)],
    );
  });
});
