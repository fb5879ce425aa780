// End-to-end flow of a fedmarket task (protocol v2) on Hardhat's simulated chain, driven through viem the
// way the Python client drives the contracts: deploy FedTask and ChallengeCourt, a permissioned task joined
// by allowlist and by the sponsor's EIP-712 invitation, participants signing EIP-712 update commitments that
// the coordinator anchors as one Merkle root per round, a participant left out who commits directly, Merkle
// rewards claimed after the challenge window, a frivolous challenge that loses its bond, the last round's
// shares, and the escrow accounting read back. The relayed dataset listing is in
// Market.flow.test.js. Run: `npx hardhat test nodejs`.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { network } from "hardhat";
import { concat, encodeAbiParameters, getAddress, keccak256, parseEther, toHex, verifyTypedData } from "viem";

const { viem, networkHelpers } = await network.create();

const TaskStatus = { None: 0, Joining: 1, Training: 2, Completed: 3, Cancelled: 4, Aborted: 5 };
const ChallengeStatus = { None: 0, Open: 1, Upheld: 2, Rejected: 3, Dismissed: 4 };
const hash = (text) => keccak256(toHex(text));
const N = 10;
const POOL = parseEther("1000");
const STAKE = parseEther("10");
const COORDINATOR_STAKE = parseEther("100");
const SCHEDULE = {
  joinPeriod: 86_400,
  commitPeriod: 3_600,
  inclusionPeriod: 1_800,
  revealPeriod: 3_600,
  finalizePeriod: 86_400,
  challengePeriod: 172_800,
  openPeriod: 86_400,
  abortGrace: 259_200,
  stakeCooldown: 604_800,
};

// ---------------------------------------------------------------- OpenZeppelin-compatible Merkle trees

/** keccak256(bytes.concat(keccak256(abi.encode(values)))): a double-hashed leaf. */
const leaf = (types, values) => keccak256(keccak256(encodeAbiParameters(types, values)));
const rewardLeaf = (taskId, round, account, amount) =>
  leaf([{ type: "uint256" }, { type: "uint32" }, { type: "address" }, { type: "uint256" }], [taskId, round, account, amount]);
const commitmentLeaf = (taskId, round, participant, updateHash, samples) =>
  leaf(
    [{ type: "uint256" }, { type: "uint32" }, { type: "address" }, { type: "bytes32" }, { type: "uint64" }],
    [taskId, round, participant, updateHash, samples],
  );
const hashPair = (a, b) => (BigInt(a) < BigInt(b) ? keccak256(concat([a, b])) : keccak256(concat([b, a])));

/** Levels of a tree built pairwise, an odd node carried up (same shape as contracts/test/utils/Merkle.sol). */
function levels(leaves) {
  const out = [leaves];
  while (out.at(-1).length > 1) {
    const level = out.at(-1);
    const next = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? hashPair(level[i], level[i + 1]) : level[i]);
    out.push(next);
  }
  return out;
}
const merkleRoot = (leaves) => levels(leaves).at(-1)[0];
function merkleProof(leaves, index) {
  const proof = [];
  for (const level of levels(leaves).slice(0, -1)) {
    const sibling = index ^ 1;
    if (sibling < level.length) proof.push(level[sibling]);
    index = Math.floor(index / 2);
  }
  return proof;
}

// ---------------------------------------------------------------- fixture

async function deployFixture() {
  const wallets = await viem.getWalletClients();
  const [deployer, coordinator, validator, relayer, ...rest] = wallets;
  const participants = rest.slice(0, N);
  const publicClient = await viem.getPublicClient();
  const token = await viem.deployContract("MockToken");
  const fedTask = await viem.deployContract("FedTask", [token.address, deployer.account.address]);
  const court = await viem.deployContract("ChallengeCourt", [
    token.address, fedTask.address, deployer.account.address, parseEther("50"), parseEther("20"), 86_400n, 259_200n,
  ]);
  await fedTask.write.grantRole([await fedTask.read.COURT_ROLE(), court.address]);
  for (const wallet of [deployer, coordinator, validator, ...participants]) {
    await token.write.mint([wallet.account.address, parseEther("10000")]);
    await token.write.approve([fedTask.address, 2n ** 256n - 1n], { account: wallet.account });
    await token.write.approve([court.address, 2n ** 256n - 1n], { account: wallet.account });
  }
  const chainId = await publicClient.getChainId();
  const domain = { name: "FedMarket FedTask", version: "2", chainId, verifyingContract: fedTask.address };
  return { publicClient, token, fedTask, court, deployer, coordinator, validator, relayer, participants, domain };
}

/** Calls `contract.write[fn](args)` as `wallet` and waits for the receipt. */
async function send(publicClient, wallet, contract, fn, args = []) {
  const txHash = await contract.write[fn](args, { account: wallet.account });
  return publicClient.waitForTransactionReceipt({ hash: txHash });
}

function config(coordinator, overrides = {}) {
  return {
    specCid: "bafkreispec",
    specHash: hash("spec"),
    coordinator,
    pool: POOL,
    totalRounds: 2,
    maxParticipants: N,
    quorum: 3,
    participantStake: STAKE,
    coordinatorStake: COORDINATOR_STAKE,
    slashBps: 2_000,
    permissioned: true,
    schedule: SCHEDULE,
    ...overrides,
  };
}

const updateTypes = {
  UpdateCommitment: [
    { name: "taskId", type: "uint256" },
    { name: "round", type: "uint32" },
    { name: "updateHash", type: "bytes32" },
    { name: "samples", type: "uint64" },
  ],
};

describe("FedTask v2 flow (viem)", () => {
  it("runs a permissioned two-round task with batched commitments, Merkle claims and a frivolous challenge", async () => {
    const { publicClient, token, fedTask, court, deployer, coordinator, validator, participants, domain } =
      await networkHelpers.loadFixture(deployFixture);
    const sponsor = deployer;
    const addresses = participants.map((w) => getAddress(w.account.address));
    const fromBlock = await publicClient.getBlockNumber();

    // A validator registers before any challenge.
    await send(publicClient, validator, court, "registerValidator", [parseEther("100")]);

    // Create: the pool moves into escrow, credited as received.
    await viem.assertions.emitWithArgs(
      fedTask.write.createTask([config(coordinator.account.address)]),
      fedTask,
      "TaskCreated",
      [1n, getAddress(sponsor.account.address), getAddress(coordinator.account.address), POOL, 2, N, "bafkreispec", hash("spec")],
    );
    const taskId = 1n;

    // Join: nine allowlisted, the tenth with the sponsor's EIP-712 invitation; the coordinator is refused.
    await send(publicClient, sponsor, fedTask, "setAllowed", [taskId, addresses.slice(0, N - 1), true]);
    for (const wallet of participants.slice(0, N - 1)) await send(publicClient, wallet, fedTask, "joinTask", [taskId, 0n, "0x"]);
    const { timestamp } = await publicClient.getBlock();
    const deadline = timestamp + 3_600n;
    const invitation = await sponsor.signTypedData({
      domain,
      types: { Invitation: [{ name: "taskId", type: "uint256" }, { name: "participant", type: "address" }, { name: "deadline", type: "uint256" }] },
      primaryType: "Invitation",
      message: { taskId, participant: addresses[N - 1], deadline },
    });
    await send(publicClient, participants[N - 1], fedTask, "joinTask", [taskId, deadline, invitation]);
    await viem.assertions.revertWithCustomErrorWithArgs(
      fedTask.write.joinTask([taskId, 0n, "0x"], { account: coordinator.account }),
      fedTask,
      "TaskRoleConflict",
      [taskId, getAddress(coordinator.account.address)],
    );
    assert.deepEqual(await fedTask.read.getParticipants([taskId]), addresses);
    assert.equal(await fedTask.read.participantIndex([taskId, addresses[N - 1]]), N - 1);

    // Round 1: the coordinator stakes and opens; participants sign commitments; one is left out of the batch.
    await send(publicClient, coordinator, fedTask, "stakeAsCoordinator", [taskId]);
    await send(publicClient, coordinator, fedTask, "openRound", [taskId, 1, "bafkreimodel0", hash("model-0")]);
    const updates = participants.map((w, i) => ({ updateHash: hash(`update-${i}-1`), samples: BigInt(100 + i) }));
    const signatures = await Promise.all(
      participants.map((w, i) =>
        w.signTypedData({ domain, types: updateTypes, primaryType: "UpdateCommitment", message: { taskId, round: 1, ...updates[i] } }),
      ),
    );
    // What an auditor checks in the batch document: every leaf carries its participant's signature.
    for (let i = 0; i < N; i++) {
      assert.ok(
        await verifyTypedData({
          address: addresses[i], domain, types: updateTypes, primaryType: "UpdateCommitment",
          message: { taskId, round: 1, ...updates[i] }, signature: signatures[i],
        }),
      );
    }
    const batched = addresses.slice(0, N - 1);
    const commitmentRoot = merkleRoot(batched.map((a, i) => commitmentLeaf(taskId, 1, a, updates[i].updateHash, updates[i].samples)));
    const batchReceipt = await send(publicClient, coordinator, fedTask, "commitBatch", [taskId, 1, commitmentRoot, N - 1, "bafkreibatch1"]);
    // Anchoring: one transaction per round, at most 5,000 gas per participant-update at N = 10.
    assert.ok(batchReceipt.gasUsed / BigInt(N) <= 5_000n, `commitBatch ${batchReceipt.gasUsed} gas for ${N} updates`);
    const round1 = await fedTask.read.getRound([taskId, 1]);
    assert.equal(round1.commitRoot, commitmentRoot);

    // The left-out participant commits directly during the inclusion period; a copied hash is refused.
    await networkHelpers.time.increaseTo(round1.commitDeadline);
    await send(publicClient, participants[N - 1], fedTask, "commitUpdate", [taskId, 1, updates[N - 1].updateHash, updates[N - 1].samples, "bafkreiupdate"]);
    await viem.assertions.revertWithCustomErrorWithArgs(
      fedTask.write.commitUpdate([taskId, 1, updates[N - 1].updateHash, 1n, "bafkreiupdate"], { account: participants[0].account }),
      fedTask,
      "TaskUpdateHashTaken",
      [taskId, 1, updates[N - 1].updateHash, addresses[N - 1]],
    );
    assert.equal((await fedTask.read.getRound([taskId, 1])).commitments, N);

    // Finalise after the reveal deadline with a Merkle root of rewards within the cap.
    const cap = await fedTask.read.roundCap([taskId, 1]);
    assert.equal(cap, POOL / 2n);
    const amounts1 = addresses.map((_, i) => parseEther(String(10 + i)));
    const budget1 = amounts1.reduce((a, b) => a + b, 0n);
    const rewardLeaves1 = addresses.map((a, i) => rewardLeaf(taskId, 1, a, amounts1[i]));
    await networkHelpers.time.increaseTo(round1.revealDeadline);
    const finalization1 = {
      newModelCid: "bafkreimodel1", newModelHash: hash("model-1"), evidenceCid: "bafkreievidence1",
      rewardsRoot: merkleRoot(rewardLeaves1), budget: budget1, accepted: N, flagged: [], shares: "0x",
    };
    await send(publicClient, coordinator, fedTask, "finalizeRound", [taskId, 1, finalization1]);
    const [finalized] = await publicClient.getContractEvents({
      address: fedTask.address, abi: fedTask.abi, eventName: "RoundFinalized", fromBlock, strict: true,
    });
    assert.deepEqual(
      [finalized.args.round, finalized.args.evidenceCid, finalized.args.rewardsRoot, finalized.args.budget, finalized.args.accepted],
      [1, "bafkreievidence1", finalization1.rewardsRoot, budget1, N],
    );

    // A frivolous challenge inside the window: the validator rejects it and takes the bond.
    await send(publicClient, participants[3], court, "challenge", [taskId, 1, "0x0000000000000000000000000000000000000000", "bafkreiclaim", hash("pay me more"), "0x"]);
    assert.deepEqual(await fedTask.read.roundClaimableAt([taskId, 1]), [(await fedTask.read.getRound([taskId, 1])).claimableAt, true]);
    await send(publicClient, validator, court, "vote", [1n, 0, "bafkreiaudit"]);
    await send(publicClient, deployer, court, "resolve", [1n]);
    assert.equal((await court.read.getChallenge([1n])).status, ChallengeStatus.Rejected);
    assert.equal(await court.read.balanceOf([validator.account.address]), parseEther("20"));

    // Round 2 (the last): opened from round 1's model, batched in full, finalised with the shares.
    await send(publicClient, coordinator, fedTask, "openRound", [taskId, 2, "bafkreimodel1", hash("model-1")]);
    const updates2 = addresses.map((a, i) => commitmentLeaf(taskId, 2, a, hash(`update-${i}-2`), 100n));
    await send(publicClient, coordinator, fedTask, "commitBatch", [taskId, 2, merkleRoot(updates2), N, "bafkreibatch2"]);
    const round2 = await fedTask.read.getRound([taskId, 2]);
    await networkHelpers.time.increaseTo(round2.revealDeadline);
    const amounts2 = addresses.map(() => parseEther("20"));
    const rewardLeaves2 = addresses.map((a, i) => rewardLeaf(taskId, 2, a, amounts2[i]));
    const bps = [1900, 1100, 1000, 1000, 1000, 1000, 1000, 800, 600, 600];
    const shares = concat(bps.map((b) => toHex(b, { size: 2 })));
    await viem.assertions.emitWithArgs(
      send(publicClient, coordinator, fedTask, "finalizeRound", [
        taskId, 2,
        {
          newModelCid: "bafkreimodel2", newModelHash: hash("model-2"), evidenceCid: "bafkreievidence2",
          rewardsRoot: merkleRoot(rewardLeaves2), budget: parseEther("200"), accepted: N, flagged: [], shares,
        },
      ]).then((r) => r.transactionHash),
      fedTask,
      "TaskCompleted",
      [taskId, "bafkreimodel2", hash("model-2"), shares],
    );
    const task = await fedTask.read.getTask([taskId]);
    assert.equal(task.status, TaskStatus.Completed);
    assert.deepEqual(await fedTask.read.shares([taskId]), bps);
    assert.equal(await fedTask.read.shareOf([taskId, addresses[0]]), 1900);
    assert.equal(await fedTask.read.isFinal([taskId]), false);

    // After the windows: each participant claims both rounds at once; claiming twice is refused.
    await networkHelpers.time.increaseTo(round2.revealDeadline + BigInt(SCHEDULE.challengePeriod) + 10n);
    assert.equal(await fedTask.read.isFinal([taskId]), true);
    for (let i = 0; i < N; i++) {
      await send(publicClient, participants[i], fedTask, "claimMany", [
        taskId, [1, 2], [amounts1[i], amounts2[i]], [merkleProof(rewardLeaves1, i), merkleProof(rewardLeaves2, i)],
      ]);
    }
    await viem.assertions.revertWithCustomErrorWithArgs(
      fedTask.write.claimRewards([taskId, 1, amounts1[0], merkleProof(rewardLeaves1, 0)], { account: participants[0].account }),
      fedTask,
      "TaskAlreadyClaimed",
      [taskId, 1, addresses[0]],
    );
    const claims = await publicClient.getContractEvents({
      address: fedTask.address, abi: fedTask.abi, eventName: "RewardsClaimed", args: { taskId }, fromBlock, strict: true,
    });
    assert.equal(claims.reduce((sum, e) => sum + e.args.amount, 0n), budget1 + parseEther("200"));

    // The sponsor takes back what no round spent; stakes come back after the cooldown.
    await viem.assertions.emitWithArgs(fedTask.write.withdrawRemainder([taskId]), fedTask, "RemainderWithdrawn", [
      taskId, getAddress(sponsor.account.address), POOL - budget1 - parseEther("200"),
    ]);
    await networkHelpers.time.increase(SCHEDULE.stakeCooldown);
    for (const wallet of [...participants, coordinator]) await send(publicClient, wallet, fedTask, "withdrawStake", [taskId]);
    assert.equal(await token.read.balanceOf([fedTask.address]), 0n);
    assert.equal(
      await token.read.balanceOf([court.address]),
      (await court.read.totalValidatorStake()) + (await court.read.bondsHeld()) + (await court.read.totalOwed()),
    );
  });

  it("lets anyone abort a stalled task and pays the sponsor exactly what was unspent", async () => {
    const { publicClient, token, fedTask, deployer, coordinator, participants } = await networkHelpers.loadFixture(deployFixture);
    await fedTask.write.createTask([config(coordinator.account.address, { permissioned: false })]);
    for (const wallet of participants.slice(0, 3)) await send(publicClient, wallet, fedTask, "joinTask", [1n, 0n, "0x"]);
    await send(publicClient, coordinator, fedTask, "stakeAsCoordinator", [1n]);
    const { deadline } = await fedTask.read.getTask([1n]);
    await viem.assertions.revertWithCustomErrorWithArgs(
      fedTask.write.abortTask([1n], { account: participants[0].account }),
      fedTask,
      "TaskNotAbortable",
      [1n, deadline + BigInt(SCHEDULE.abortGrace)],
    );
    await networkHelpers.time.increaseTo(deadline + BigInt(SCHEDULE.abortGrace));
    const before = await token.read.balanceOf([deployer.account.address]);
    await send(publicClient, participants[0], fedTask, "abortTask", [1n]);
    const slash = (COORDINATOR_STAKE * 2_000n) / 10_000n;
    assert.equal((await token.read.balanceOf([deployer.account.address])) - before, POOL + slash);
    assert.equal((await fedTask.read.getTask([1n])).status, TaskStatus.Aborted);
  });

  it("rejects invalid calls with the custom errors the Python client decodes", async () => {
    const { publicClient, fedTask, deployer, coordinator, participants } = await networkHelpers.loadFixture(deployFixture);
    await viem.assertions.revertWithCustomErrorWithArgs(
      fedTask.write.createTask([config(coordinator.account.address, { maxParticipants: 1_025 })]),
      fedTask,
      "TaskInvalidConfig",
      ["maxParticipants"],
    );
    await viem.assertions.revertWithCustomErrorWithArgs(
      fedTask.write.createTask([config(deployer.account.address)]),
      fedTask,
      "TaskInvalidConfig",
      ["coordinator"],
    );
    await fedTask.write.createTask([config(coordinator.account.address, { permissioned: false, quorum: 1 })]);
    await viem.assertions.revertWithCustomErrorWithArgs(
      fedTask.write.openRound([1n, 1, "m", hash("m")], { account: coordinator.account }),
      fedTask,
      "TaskCoordinatorNotStaked",
      [1n],
    );
    await send(publicClient, participants[0], fedTask, "joinTask", [1n, 0n, "0x"]);
    await send(publicClient, coordinator, fedTask, "stakeAsCoordinator", [1n]);
    await send(publicClient, coordinator, fedTask, "openRound", [1n, 1, "m", hash("m")]);
    const { revealDeadline } = await fedTask.read.getRound([1n, 1]);
    await viem.assertions.revertWithCustomErrorWithArgs(
      fedTask.write.finalizeRound(
        [1n, 1, { newModelCid: "m1", newModelHash: hash("m1"), evidenceCid: "e", rewardsRoot: hash("r"), budget: 1n, accepted: 0, flagged: [], shares: "0x" }],
        { account: coordinator.account },
      ),
      fedTask,
      "TaskTooEarly",
      [1n, 1, revealDeadline],
    );
  });
});
