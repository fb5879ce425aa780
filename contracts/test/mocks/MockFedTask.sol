// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IFedTaskReader} from "../../interfaces/IFedTaskReader.sol";

/**
 * @title MockFedTask
 * @notice Test-only {IFedTaskReader} with settable sponsors, finality and shares, so the market tests do not
 * depend on FedTask (rewritten elsewhere). Anyone may set anything: the tests control it, and can make it
 * misbehave (shares summing to more than 10,000, shares changing after finality) to show the market's guards.
 */
contract MockFedTask is IFedTaskReader {
    mapping(uint256 taskId => address) private _sponsors;
    mapping(uint256 taskId => bool) private _final;
    mapping(uint256 taskId => mapping(address account => uint16)) private _shares;

    /// @notice Sets a task's sponsor.
    /// @param taskId The task's id.
    /// @param sponsor The sponsor (zero: unknown task).
    function setSponsor(uint256 taskId, address sponsor) external {
        _sponsors[taskId] = sponsor;
    }

    /// @notice Sets whether a task is final.
    /// @param taskId The task's id.
    /// @param value True once final.
    function setFinal(uint256 taskId, bool value) external {
        _final[taskId] = value;
    }

    /// @notice Sets one contributor's share.
    /// @param taskId The task's id.
    /// @param account The contributor.
    /// @param bps The share in basis points.
    function setShare(uint256 taskId, address account, uint16 bps) external {
        _shares[taskId][account] = bps;
    }

    /// @notice Sets a task's sponsor, contributors and shares (the caller makes them sum to 10,000) and makes it
    /// final.
    /// @param taskId The task's id.
    /// @param sponsor The sponsor.
    /// @param accounts The contributors.
    /// @param bps Their shares, in the same order.
    function setCompleted(uint256 taskId, address sponsor, address[] calldata accounts, uint16[] calldata bps)
        external
    {
        _sponsors[taskId] = sponsor;
        _final[taskId] = true;
        for (uint256 i = 0; i < accounts.length; ++i) {
            _shares[taskId][accounts[i]] = bps[i];
        }
    }

    /// @inheritdoc IFedTaskReader
    function sponsorOf(uint256 taskId) external view returns (address sponsor) {
        return _sponsors[taskId];
    }

    /// @inheritdoc IFedTaskReader
    function isParticipant(uint256 taskId, address account) external view returns (bool joined) {
        return _shares[taskId][account] != 0;
    }

    /// @inheritdoc IFedTaskReader
    function isFinal(uint256 taskId) external view returns (bool final_) {
        return _final[taskId];
    }

    /// @inheritdoc IFedTaskReader
    function shareOf(uint256 taskId, address account) external view returns (uint16 bps) {
        return _shares[taskId][account];
    }
}
