// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

import {IRewardToken} from "./interfaces/IRewardToken.sol";

/**
 * @title RewardToken
 * @notice The fedmarket token ("FedMarket Token", FMT, 18 decimals) that funds task pools, pays rewards and
 * buys models and datasets.
 * @dev ERC-20 with EIP-2612 permits and a capped supply. Supply rules:
 * - the supply starts at 0 and grows only through {mint}, called by an account holding `MINTER_ROLE`;
 * - the supply never exceeds {cap}, fixed at deployment (`ERC20ExceededCap` otherwise);
 * - nothing burns or otherwise destroys tokens, so transfers (every marketplace action) leave it unchanged.
 * Roles: `DEFAULT_ADMIN_ROLE` grants and revokes `MINTER_ROLE`; the constructor's admin holds both.
 */
contract RewardToken is IRewardToken, ERC20, ERC20Permit, ERC20Capped, AccessControl {
    /// @inheritdoc IRewardToken
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /**
     * @notice Deploys the token with no supply.
     * @param admin Holds `DEFAULT_ADMIN_ROLE` and `MINTER_ROLE` (reverts with {TokenInvalidAdmin} when zero).
     * @param cap_ The largest total supply ever allowed, in token wei (reverts with `ERC20InvalidCap(0)` when 0).
     */
    constructor(address admin, uint256 cap_)
        ERC20("FedMarket Token", "FMT")
        ERC20Permit("FedMarket Token")
        ERC20Capped(cap_)
    {
        if (admin == address(0)) {
            revert TokenInvalidAdmin(admin);
        }
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, admin);
    }

    /// @inheritdoc IRewardToken
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    /// @dev Applies the cap check of {ERC20Capped} to every mint.
    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Capped) {
        super._update(from, to, value);
    }
}
