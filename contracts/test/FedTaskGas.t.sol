// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {console} from "hardhat/console.sol";

import {IFedTask} from "../interfaces/IFedTask.sol";
import {Vm} from "./utils/Vm.sol";
import {FedTaskFixture} from "./utils/FedTaskFixture.sol";
import {Merkle} from "./utils/Merkle.sol";

/**
 * @notice Gas targets of docs/protocol-v2-spec.md: the coordinator's `openRound`, `commitBatch` and
 * `finalizeRound` (not the last round) cost the same with 10, 100 and 1,000 participants joined, and anchoring
 * costs at most 5,000 gas per participant-update at 10 participants, amortised over one `commitBatch`.
 * @dev Each measured call runs against cold storage (`vm.cool`, as at the start of a transaction); its
 * execution gas comes from `vm.lastCallGas()`. A transaction's gas adds the intrinsic 21,000 and the calldata
 * (EIP-2028: 4 per zero byte, 16 per other byte; the EIP-7623 floor is far below these calls' cost). The
 * figures are printed (`npx hardhat test solidity contracts/test/FedTaskGas.t.sol`).
 */
contract FedTaskGasTest is FedTaskFixture {
    uint256 private constant TARGET_PER_UPDATE = 5_000;

    /// @dev Transaction gas of the coordinator's calls in one task, and the execution part of round 2's.
    struct RoundGas {
        uint256 open1;
        uint256 batch1;
        uint256 finalize1;
        uint256 open2;
        uint256 batch2;
        uint256 finalize2;
        uint256 open2Execution;
        uint256 batch2Execution;
        uint256 finalize2Execution;
    }

    /// @dev Execution gas of the last call measured by {_txGas}.
    uint256 private _lastExecution;

    function test_gas_coordinatorPerRoundGasDoesNotGrowWithParticipants() public {
        RoundGas memory g10 = _measure(10);
        RoundGas memory g100 = _measure(100);
        RoundGas memory g1000 = _measure(1_000);
        _print("N = 10   ", g10);
        _print("N = 100  ", g100);
        _print("N = 1000 ", g1000);

        // Execution is identical. The transactions differ only in calldata: the value of `count` (batch) and of
        // `accepted` (finalisation) take one more non-zero byte at N = 1,000 (12 gas).
        vm.assertEq(g10.open2Execution, g1000.open2Execution, "openRound execution 10 vs 1000");
        vm.assertEq(g10.batch2Execution, g100.batch2Execution, "commitBatch execution 10 vs 100");
        vm.assertEq(g10.batch2Execution, g1000.batch2Execution, "commitBatch execution 10 vs 1000");
        vm.assertEq(g10.finalize2Execution, g100.finalize2Execution, "finalizeRound execution 10 vs 100");
        vm.assertEq(g10.finalize2Execution, g1000.finalize2Execution, "finalizeRound execution 10 vs 1000");
        vm.assertEq(g10.open2, g1000.open2, "openRound tx 10 vs 1000");
        vm.assertApproxEqAbs(g10.batch2, g1000.batch2, 12, "commitBatch tx 10 vs 1000");
        vm.assertApproxEqAbs(g10.finalize2, g1000.finalize2, 12, "finalizeRound tx 10 vs 1000");
        vm.assertEq(g10.open1, g1000.open1, "round 1 too");
    }

    function test_gas_anchoringCostsAtMost5000PerParticipantUpdateAtTenParticipants() public {
        RoundGas memory g = _measure(10);
        uint256 perUpdate1 = g.batch1 / 10;
        uint256 perUpdate2 = g.batch2 / 10;
        console.log("commitBatch per participant-update at N = 10 (round 1, round 2):", perUpdate1, perUpdate2);
        vm.assertLe(perUpdate1, TARGET_PER_UPDATE, "round 1 within target");
        vm.assertLe(perUpdate2, TARGET_PER_UPDATE, "round 2 within target");
    }

    function test_gas_claimRewardsAtTenParticipants() public {
        (uint256 taskId, address[] memory accounts) = _task(10);
        _open(taskId, 1);
        _batch(taskId, 1, 10);
        _toRevealDeadline(taskId, 1);
        uint256[] memory amounts = new uint256[](10);
        for (uint256 i = 0; i < 10; ++i) {
            amounts[i] = (i + 1) * 1e18;
        }
        _finalize(taskId, 1, _finalization(taskId, 1, accounts, amounts));
        _toClaimable(taskId, 1);
        bytes32[] memory leaves = _rewardLeaves(taskId, 1, accounts, amounts);

        uint256 first = _claimGas(taskId, accounts[0], amounts[0], Merkle.proof(leaves, 0));
        uint256 second = _claimGas(taskId, accounts[1], amounts[1], Merkle.proof(leaves, 1));
        console.log("claimRewards tx gas at N = 10 (first claim of the round, a later one):", first, second);
        vm.assertLe(second, first, "later claims reuse the bitmap word");
    }

    // ------------------------------------------------------------------ measurement

    /// @dev A task with `n` participants (no stake, to keep set-up short); rounds 1 and 2 measured.
    function _measure(uint256 n) private returns (RoundGas memory g) {
        (uint256 taskId, ) = _task(n);
        g.open1 = _openGas(taskId, 1);
        g.batch1 = _batchGas(taskId, 1, uint32(n));
        _toRevealDeadline(taskId, 1);
        g.finalize1 = _finalizeGas(taskId, 1);
        g.open2 = _openGas(taskId, 2);
        g.open2Execution = _lastExecution;
        g.batch2 = _batchGas(taskId, 2, uint32(n));
        g.batch2Execution = _lastExecution;
        _toRevealDeadline(taskId, 2);
        g.finalize2 = _finalizeGas(taskId, 2);
        g.finalize2Execution = _lastExecution;
    }

    function _task(uint256 n) private returns (uint256 taskId, address[] memory accounts) {
        IFedTask.TaskConfig memory config = _config();
        config.maxParticipants = uint32(n);
        config.participantStake = 0;
        config.totalRounds = 3;
        taskId = _create(config);
        accounts = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            accounts[i] = address(uint160(uint256(keccak256(abi.encode("gas participant", n, i)))));
            _join(taskId, accounts[i]);
        }
        _stake(taskId);
    }

    function _openGas(uint256 taskId, uint32 round) private returns (uint256) {
        bytes memory data = abi.encodeCall(IFedTask.openRound, (taskId, round, "bafkreimodel", _modelHash(round - 1)));
        return _txGas(coordinator, data);
    }

    function _batchGas(uint256 taskId, uint32 round, uint32 count) private returns (uint256) {
        bytes32 root = keccak256(abi.encode("batch", taskId, round));
        bytes memory data = abi.encodeCall(IFedTask.commitBatch, (taskId, round, root, count, BATCH_CID));
        return _txGas(coordinator, data);
    }

    function _finalizeGas(uint256 taskId, uint32 round) private returns (uint256) {
        IFedTask.Finalization memory f = _finalization(taskId, round, _one(address(1)), _amounts1(1e18));
        return _txGas(coordinator, abi.encodeCall(IFedTask.finalizeRound, (taskId, round, f)));
    }

    function _claimGas(
        uint256 taskId,
        address account,
        uint256 amount,
        bytes32[] memory proof
    ) private returns (uint256) {
        return _txGas(account, abi.encodeCall(IFedTask.claimRewards, (taskId, 1, amount, proof)));
    }

    /// @dev Gas of `data` sent by `from` to FedTask as a transaction of its own: cold storage, intrinsic
    /// 21,000, calldata, execution.
    function _txGas(address from, bytes memory data) private returns (uint256) {
        vm.cool(address(fedTask));
        vm.cool(address(token));
        vm.prank(from);
        (bool ok, ) = address(fedTask).call(data);
        vm.assertTrue(ok, "call succeeded");
        Vm.Gas memory gas = vm.lastCallGas();
        _lastExecution = gas.gasTotalUsed;
        return 21_000 + _calldataGas(data) + gas.gasTotalUsed;
    }

    function _calldataGas(bytes memory data) private pure returns (uint256 cost) {
        for (uint256 i = 0; i < data.length; ++i) {
            cost += data[i] == 0 ? 4 : 16;
        }
    }

    function _amounts1(uint256 a) private pure returns (uint256[] memory amounts) {
        amounts = new uint256[](1);
        amounts[0] = a;
    }

    function _print(string memory label, RoundGas memory g) private pure {
        console.log(label);
        console.log("  openRound     r1 / r2:", g.open1, g.open2);
        console.log("  commitBatch   r1 / r2:", g.batch1, g.batch2);
        console.log("  finalizeRound r1 / r2:", g.finalize1, g.finalize2);
        console.log("  execution of r2 (open, batch, finalize):", g.open2Execution, g.batch2Execution);
        console.log("                                          ", g.finalize2Execution);
    }
}
