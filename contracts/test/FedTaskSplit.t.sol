// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {FedTaskFixture} from "./utils/FedTaskFixture.sol";

/**
 * @notice Fuzz tests of the reward split in `finalizeRound` against reference computations:
 * the amounts add up to the budget exactly and each is within 1 wei of `budget * s_i / S`.
 */
contract FedTaskSplitTest is FedTaskFixture {
    uint256 private constant MAX_FUZZ_PARTICIPANTS = 12;

    function testFuzz_finalizeRound_splitMatchesReference(
        uint256 participantCount,
        uint256 seed,
        uint256 budget,
        uint256 maxScore
    ) public {
        uint256 n = bound(participantCount, 1, MAX_FUZZ_PARTICIPANTS);
        budget = bound(budget, 0, type(uint128).max);
        maxScore = bound(maxScore, 0, type(uint64).max);
        uint256[] memory scores = _randomScores(n, seed, maxScore);
        (uint256 taskId, address[] memory participants) = _roundWithScores(scores, seed, budget + 1);

        _finalize(taskId, 1, scores, budget);

        // Reference: the spec's formula with plain arithmetic (no overflow under these bounds).
        uint256 total;
        for (uint256 i = 0; i < n; ++i) {
            total += scores[i];
        }
        uint256 prefix;
        uint256 paid;
        for (uint256 i = 0; i < n; ++i) {
            uint256 amount = fedTask.owed(participants[i]);
            uint256 expected;
            if (total != 0) {
                uint256 before = (budget * prefix) / total;
                prefix += scores[i];
                expected = (budget * prefix) / total - before;
                // |amount - budget * s_i / S| < 1  <=>  |amount * S - budget * s_i| < S
                uint256 scaled = amount * total;
                uint256 exact = budget * scores[i];
                vm.assertLe(scaled > exact ? scaled - exact : exact - scaled, total - 1, "within 1 wei");
            }
            vm.assertEq(amount, expected, "amount == reference");
            paid += amount;
        }
        vm.assertEq(paid, total == 0 ? 0 : budget, "sum == budget");
        vm.assertEq(fedTask.getTask(taskId).escrow, budget + 1 - paid, "escrow debited by exactly the sum");
    }

    function testFuzz_finalizeRound_splitHandlesExtremeValues(uint256 participantCount, uint256 seed, uint256 budget)
        public
    {
        uint256 n = bound(participantCount, 1, 8);
        budget = bound(budget, 1, type(uint256).max / 2);
        // Scores as large as possible without their sum overflowing.
        uint256[] memory scores = _randomScores(n, seed, type(uint256).max / n);
        (uint256 taskId, address[] memory participants) = _roundWithScores(scores, seed, budget);

        _finalize(taskId, 1, scores, budget);

        uint256 total;
        for (uint256 i = 0; i < n; ++i) {
            total += scores[i];
        }
        uint256 paid;
        for (uint256 i = 0; i < n; ++i) {
            uint256 amount = fedTask.owed(participants[i]);
            if (total != 0) {
                // Reference: floor(budget * s_i / S) in 512-bit precision; the share may exceed it by 1 wei.
                uint256 floorShare = Math.mulDiv(budget, scores[i], total);
                vm.assertTrue(amount == floorShare || amount == floorShare + 1, "within 1 wei of the exact share");
            } else {
                vm.assertEq(amount, 0, "nothing paid when every score is zero");
            }
            paid += amount;
        }
        vm.assertEq(paid, total == 0 ? 0 : budget, "sum == budget");
    }

    function testFuzz_finalizeRound_equalScoresSplitEvenly(uint256 participantCount, uint256 budget, uint256 score)
        public
    {
        uint256 n = bound(participantCount, 1, MAX_FUZZ_PARTICIPANTS);
        budget = bound(budget, 0, POOL);
        score = bound(score, 1, type(uint128).max);
        uint256[] memory scores = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            scores[i] = score;
        }
        (uint256 taskId, address[] memory participants) = _roundWithScores(scores, 0, POOL);

        _finalize(taskId, 1, scores, budget);

        uint256 paid;
        for (uint256 i = 0; i < n; ++i) {
            uint256 amount = fedTask.owed(participants[i]);
            vm.assertApproxEqAbs(amount, budget / n, 1, "even share");
            paid += amount;
        }
        vm.assertEq(paid, budget, "sum == budget");
    }

    /// @dev `n` pseudo-random scores in `[0, maxScore]`, about a quarter of them zero.
    function _randomScores(uint256 n, uint256 seed, uint256 maxScore) private pure returns (uint256[] memory scores) {
        scores = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 draw = uint256(keccak256(abi.encode(seed, i)));
            scores[i] = draw % 4 == 0 || maxScore == 0 ? 0 : (draw >> 2) % maxScore + 1;
        }
    }

    /**
     * @dev A task funded with `pool` whose round 1 is open, with one participant per score. Everyone with a
     * positive score submitted; some with a zero score submitted too.
     */
    function _roundWithScores(uint256[] memory scores, uint256 seed, uint256 pool)
        private
        returns (uint256 taskId, address[] memory participants)
    {
        uint256 n = scores.length;
        token.mint(sponsor, pool);
        vm.prank(sponsor);
        taskId = fedTask.createTask(SPEC_CID, SPEC_HASH, coordinator, pool, 1, uint32(n));
        participants = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            participants[i] = address(uint160(0xF00D0000 + i));
        }
        _joinAll(taskId, participants);
        _openRound(taskId, 1);
        for (uint256 i = 0; i < n; ++i) {
            if (scores[i] != 0 || uint256(keccak256(abi.encode(seed, i, "submit"))) % 2 == 0) {
                _submit(taskId, 1, participants[i]);
            }
        }
    }
}
