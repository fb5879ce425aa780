// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/**
 * @title RewardToken
 * @notice The fedmarket token ("FedMarket Token", FMT, 18 decimals) that funds task pools and pays rewards.
 * @dev ERC-20 with EIP-2612 permits; the owner mints. Nothing else.
 */
contract RewardToken is ERC20, ERC20Permit, Ownable {
    /**
     * @notice Deploys the token with no supply.
     * @param initialOwner The account allowed to mint (reverts with `OwnableInvalidOwner(0)` when zero).
     */
    constructor(address initialOwner)
        ERC20("FedMarket Token", "FMT")
        ERC20Permit("FedMarket Token")
        Ownable(initialOwner)
    {}

    /**
     * @notice Creates `amount` tokens for `to`.
     * @dev Only the owner. Emits {Transfer} from the zero address.
     * @param to The receiving account.
     * @param amount The amount, in token wei.
     */
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
