// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title FalseReturnToken
 * @notice Test-only ERC-20 that, once switched, reports failed transfers by returning `false` instead of
 * reverting (as some real tokens do), so tests can show FedTask's SafeERC20 calls catch it.
 */
contract FalseReturnToken is ERC20 {
    /// @notice Whether transfers currently fail.
    bool public failing;

    constructor() ERC20("False", "FALSE") {}

    /// @notice Creates tokens for anyone (test-only).
    /// @param to The receiver.
    /// @param amount The amount.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Makes every transfer fail (return false, move nothing) or succeed again.
    /// @param value True to fail.
    function setFailing(bool value) external {
        failing = value;
    }

    /// @inheritdoc ERC20
    function transfer(address to, uint256 value) public override returns (bool) {
        return failing ? false : super.transfer(to, value);
    }

    /// @inheritdoc ERC20
    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        return failing ? false : super.transferFrom(from, to, value);
    }
}
