// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title FeeOnTransferToken
 * @notice Test-only ERC-20 that burns `feeBps` of every transfer, so tests can show FedTask and the court
 * credit what they actually receive.
 */
contract FeeOnTransferToken is ERC20 {
    /// @notice Share of each transfer burnt, in basis points.
    uint256 public feeBps;

    constructor() ERC20("Fee", "FEE") {}

    /// @notice Creates tokens for anyone (test-only).
    /// @param to The receiver.
    /// @param amount The amount.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Sets the fee.
    /// @param bps Basis points of each transfer burnt (at most 10,000).
    function setFeeBps(uint256 bps) external {
        feeBps = bps;
    }

    /// @inheritdoc ERC20
    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0) || feeBps == 0) {
            super._update(from, to, value);
            return;
        }
        uint256 fee = (value * feeBps) / 10_000;
        super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}
