// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {VM_ADDRESS, Vm} from "./Vm.sol";

/**
 * @title Test
 * @notice Minimal base for the fedmarket Solidity tests (a stand-in for forge-std's `Test`).
 */
abstract contract Test {
    /// @dev The cheatcodes.
    Vm internal constant vm = Vm(VM_ADDRESS);

    /**
     * @dev Maps `x` into `[min, max]`: values already inside are kept, others wrap around by modulo.
     * @param x The raw fuzz input.
     * @param min Lower bound (inclusive).
     * @param max Upper bound (inclusive); must be at least `min`.
     * @return result A value in `[min, max]`.
     */
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256 result) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        uint256 span = max - min;
        if (span == type(uint256).max) return x;
        return min + (x % (span + 1));
    }

    /**
     * @dev A deterministic account for `name`, labelled in traces.
     * @param name The account's name.
     * @return account The address.
     */
    function makeAddr(string memory name) internal returns (address account) {
        account = vm.addr(uint256(keccak256(bytes(name))));
        vm.label(account, name);
    }

    /**
     * @dev A deterministic account and its private key for `name`, labelled in traces.
     * @param name The account's name.
     * @return account The address.
     * @return privateKey Its private key.
     */
    function makeAddrAndKey(string memory name) internal returns (address account, uint256 privateKey) {
        privateKey = uint256(keccak256(bytes(name)));
        account = vm.addr(privateKey);
        vm.label(account, name);
    }
}
