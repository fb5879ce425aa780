// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title FeeToSinkToken
 * @notice Test-only ERC-20 that delivers 99 % of every transfer and sends 1 % to a sink, so tests can show the
 * marketplace credits what it received, not what it asked for. The supply never changes through transfers.
 */
contract FeeToSinkToken is ERC20 {
    /// @notice Where the 1 % goes.
    address public constant SINK = address(0x51_4B);

    constructor() ERC20("FeeOnTransfer", "FOT") {}

    /// @notice Creates tokens for anyone (test-only).
    /// @param to The receiver.
    /// @param amount The amount.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @inheritdoc ERC20
    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) {
            super._update(from, to, value);
            return;
        }
        uint256 cut = value / 100;
        super._update(from, SINK, cut);
        super._update(from, to, value - cut);
    }
}
