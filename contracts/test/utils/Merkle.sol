// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

/**
 * @title Merkle
 * @notice Test helper: OpenZeppelin-compatible Merkle trees (sorted-pair keccak256) over given leaves, built
 * level by level (an odd node is carried up unchanged), with the proofs `MerkleProof.verify` accepts.
 */
library Merkle {
    /**
     * @notice The root of a tree over `leaves` (the leaf itself for one leaf).
     * @param leaves The leaves (at least one).
     * @return root The root.
     */
    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            level = _up(level);
        }
        return level[0];
    }

    /**
     * @notice The proof of leaf `index`.
     * @param leaves The leaves.
     * @param index The leaf's position.
     * @return proof The sibling hashes from the leaf up.
     */
    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory) {
        bytes32[] memory path = new bytes32[](64);
        uint256 depth;
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < level.length) path[depth++] = level[sibling];
            level = _up(level);
            index /= 2;
        }
        bytes32[] memory result = new bytes32[](depth);
        for (uint256 i = 0; i < depth; ++i) {
            result[i] = path[i];
        }
        return result;
    }

    /**
     * @notice A rewards leaf of FedTask: `keccak256(bytes.concat(keccak256(abi.encode(...))))`.
     * @param taskId The task.
     * @param round The round.
     * @param account The account.
     * @param amount The amount.
     * @return leaf The leaf.
     */
    function rewardLeaf(uint256 taskId, uint32 round, address account, uint256 amount) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(taskId, round, account, amount))));
    }

    /**
     * @notice A commitment leaf of a FedTask batch.
     * @param taskId The task.
     * @param round The round.
     * @param participant The participant.
     * @param updateHash keccak256 of the update bytes.
     * @param samples Training samples.
     * @return leaf The leaf.
     */
    function commitmentLeaf(
        uint256 taskId,
        uint32 round,
        address participant,
        bytes32 updateHash,
        uint64 samples
    ) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(taskId, round, participant, updateHash, samples))));
    }

    function _up(bytes32[] memory level) private pure returns (bytes32[] memory next) {
        next = new bytes32[]((level.length + 1) / 2);
        for (uint256 i = 0; i < next.length; ++i) {
            next[i] =
                2 * i + 1 < level.length ? Hashes.commutativeKeccak256(level[2 * i], level[2 * i + 1]) : level[2 * i];
        }
    }
}
