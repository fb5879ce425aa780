// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IRewardToken
 * @notice The fedmarket token's own surface beyond ERC-20, EIP-2612, ERC20Capped and AccessControl.
 * @dev Supply rules: the supply starts at 0 and changes only through {mint}, by an account holding
 * `MINTER_ROLE`, and never above the cap fixed at deployment (OpenZeppelin's `ERC20ExceededCap` otherwise).
 * There is no burn: no marketplace action changes the total supply.
 */
interface IRewardToken {
    /**
     * @notice The admin given to the constructor is not a usable account.
     * @param admin The admin given (the zero address).
     */
    error TokenInvalidAdmin(address admin);

    /**
     * @notice Role of the accounts allowed to mint.
     * @return role `keccak256("MINTER_ROLE")`.
     */
    // solhint-disable-next-line func-name-mixedcase
    function MINTER_ROLE() external view returns (bytes32 role);

    /**
     * @notice Creates `amount` tokens for `to`.
     * @dev Only `MINTER_ROLE` (`AccessControlUnauthorizedAccount(caller, MINTER_ROLE)` otherwise); reverts with
     * `ERC20ExceededCap(newSupply, cap)` when the supply would exceed the cap. Emits {IERC20-Transfer} from 0.
     * @param to The receiving account.
     * @param amount The amount, in token wei.
     */
    function mint(address to, uint256 amount) external;
}
