// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title Vm
 * @notice The few Hardhat/EDR (Foundry-compatible) cheatcodes the fedmarket Solidity tests use.
 * @dev forge-std is not available from npm, so the signatures are declared here; they must match the
 * cheatcode ABI exactly. The cheatcode contract lives at {VM_ADDRESS}.
 */
interface Vm {
    /**
     * @notice A log captured by {recordLogs}.
     * @param topics The log's topics.
     * @param data The log's data.
     * @param emitter The emitting contract.
     */
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    /**
     * @notice Gas of the last call made by the test, as {lastCallGas} reports it.
     * @param gasLimit The call's gas limit.
     * @param gasTotalUsed Gas the callee used (its execution, without the caller's CALL overhead).
     * @param gasMemoryUsed Gas spent on memory expansion.
     * @param gasRefunded Gas refunded.
     * @param gasRemaining Gas left.
     */
    struct Gas {
        uint64 gasLimit;
        uint64 gasTotalUsed;
        uint64 gasMemoryUsed;
        int64 gasRefunded;
        uint64 gasRemaining;
    }

    /// @notice Gas used by the last call the test made.
    /// @return gas The figures.
    function lastCallGas() external view returns (Gas memory gas);

    /// @notice Marks an account and its storage cold, as at the start of a transaction.
    /// @param target The account.
    function cool(address target) external;

    /// @notice Sets `block.timestamp`.
    /// @param newTimestamp The new timestamp.
    function warp(uint256 newTimestamp) external;

    /// @notice Makes the next call's `msg.sender` `msgSender`.
    /// @param msgSender The sender.
    function prank(address msgSender) external;

    /// @notice Makes every following call's `msg.sender` `msgSender` until {stopPrank}.
    /// @param msgSender The sender.
    function startPrank(address msgSender) external;

    /// @notice Ends {startPrank}.
    function stopPrank() external;

    /// @notice Expects the next call to revert with exactly `revertData`.
    /// @param revertData The expected revert data (selector and ABI-encoded arguments).
    function expectRevert(bytes calldata revertData) external;

    /// @notice Expects the next call to revert with any data.
    function expectRevert() external;

    /**
     * @notice Expects the next call to emit the event emitted next by the test, from `emitter`.
     * @param checkTopic1 Compare the first indexed argument.
     * @param checkTopic2 Compare the second indexed argument.
     * @param checkTopic3 Compare the third indexed argument.
     * @param checkData Compare the non-indexed arguments.
     * @param emitter The contract expected to emit.
     */
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData, address emitter)
        external;

    /// @notice Starts capturing logs.
    function recordLogs() external;

    /// @notice Returns and clears the logs captured since {recordLogs}.
    /// @return logs The logs.
    function getRecordedLogs() external returns (Log[] memory logs);

    /**
     * @notice Signs `digest` with `privateKey`.
     * @param privateKey The secp256k1 private key.
     * @param digest The 32-byte digest.
     * @return v Recovery byte (27 or 28).
     * @return r Signature `r`.
     * @return s Signature `s`.
     */
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);

    /// @notice Address of a private key.
    /// @param privateKey The private key.
    /// @return keyAddr The address.
    function addr(uint256 privateKey) external pure returns (address keyAddr);

    /// @notice Discards the current fuzz input unless `condition` holds.
    /// @param condition The condition.
    function assume(bool condition) external pure;

    /// @notice Names an address in traces.
    /// @param account The address.
    /// @param newLabel The name.
    function label(address account, string calldata newLabel) external;

    /// @notice Fails unless `condition`.
    /// @param condition The condition.
    /// @param message The failure message.
    function assertTrue(bool condition, string calldata message) external pure;

    /// @notice Fails when `condition`.
    /// @param condition The condition.
    /// @param message The failure message.
    function assertFalse(bool condition, string calldata message) external pure;

    /// @notice Fails unless `left == right`.
    /// @param left Actual value.
    /// @param right Expected value.
    /// @param message The failure message.
    function assertEq(uint256 left, uint256 right, string calldata message) external pure;

    /// @notice Fails unless `left == right`.
    /// @param left Actual value.
    /// @param right Expected value.
    /// @param message The failure message.
    function assertEq(address left, address right, string calldata message) external pure;

    /// @notice Fails unless `left == right`.
    /// @param left Actual value.
    /// @param right Expected value.
    /// @param message The failure message.
    function assertEq(bytes32 left, bytes32 right, string calldata message) external pure;

    /// @notice Fails unless `left == right`.
    /// @param left Actual value.
    /// @param right Expected value.
    /// @param message The failure message.
    function assertEq(bool left, bool right, string calldata message) external pure;

    /// @notice Fails unless `left == right`.
    /// @param left Actual value.
    /// @param right Expected value.
    /// @param message The failure message.
    function assertEq(string calldata left, string calldata right, string calldata message) external pure;

    /// @notice Fails unless `left == right`.
    /// @param left Actual value.
    /// @param right Expected value.
    /// @param message The failure message.
    function assertEq(address[] calldata left, address[] calldata right, string calldata message) external pure;

    /// @notice Fails unless `left <= right`.
    /// @param left Actual value.
    /// @param right Upper bound.
    /// @param message The failure message.
    function assertLe(uint256 left, uint256 right, string calldata message) external pure;

    /// @notice Fails unless `left >= right`.
    /// @param left Actual value.
    /// @param right Lower bound.
    /// @param message The failure message.
    function assertGe(uint256 left, uint256 right, string calldata message) external pure;

    /// @notice Fails unless `left > right`.
    /// @param left Actual value.
    /// @param right Lower bound (exclusive).
    /// @param message The failure message.
    function assertGt(uint256 left, uint256 right, string calldata message) external pure;

    /// @notice Fails unless `left != right`.
    /// @param left Actual value.
    /// @param right Value it must differ from.
    /// @param message The failure message.
    function assertNotEq(bytes32 left, bytes32 right, string calldata message) external pure;

    /// @notice Fails unless `left == right`.
    /// @param left Actual value.
    /// @param right Expected value.
    /// @param message The failure message.
    function assertEq(bytes calldata left, bytes calldata right, string calldata message) external pure;

    /// @notice Fails unless `|left - right| <= maxDelta`.
    /// @param left Actual value.
    /// @param right Expected value.
    /// @param maxDelta Largest difference allowed.
    /// @param message The failure message.
    function assertApproxEqAbs(uint256 left, uint256 right, uint256 maxDelta, string calldata message) external pure;
}

/// @dev Address of the cheatcode contract (`address(uint160(uint256(keccak256("hevm cheat code"))))`).
address constant VM_ADDRESS = 0x7109709ECfa91a80626fF3989D68f67F5b1DD12D;
