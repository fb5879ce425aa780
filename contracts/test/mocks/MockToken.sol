// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title MockToken
 * @notice Test-only ERC-20 that anyone can mint, standing in for the reward token so that the FedTask and
 * court tests do not depend on RewardToken's minting rules.
 */
contract MockToken is ERC20 {
    constructor() ERC20("Mock FedMarket Token", "mFMT") {}

    /// @notice Creates tokens for anyone (test-only).
    /// @param to The receiver.
    /// @param amount The amount.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
