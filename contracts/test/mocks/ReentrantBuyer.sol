// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {ISenderHook} from "./ReentrantToken.sol";

/**
 * @title ReentrantBuyer
 * @notice Test-only malicious buyer: it buys through `target.call(buyPayload)` and, when the token hands it
 * control while its payment is being pulled ({ISenderHook}), calls `target` again with `reentryPayload` from its
 * own address, recording the outcome.
 */
contract ReentrantBuyer is ISenderHook {
    address private _target;
    bytes private _reentryPayload;

    /// @notice Whether the hook ran.
    bool public attempted;
    /// @notice Whether the reentrant call succeeded.
    bool public reentered;
    /// @notice The reentrant call's revert data.
    bytes public revertData;

    /// @notice Approves `spender` for `amount` of `token` (so the purchase can pull it).
    /// @param token The token.
    /// @param spender The market or registry.
    /// @param amount The allowance.
    function approve(IERC20 token, address spender, uint256 amount) external {
        token.approve(spender, amount);
    }

    /// @notice Calls `target` with `buyPayload`; during the payment, reenters it with `reentryPayload`.
    /// @param target The market or registry.
    /// @param buyPayload The purchase call.
    /// @param reentryPayload The call to make from the token hook.
    function attack(address target, bytes calldata buyPayload, bytes calldata reentryPayload) external {
        _target = target;
        _reentryPayload = reentryPayload;
        (bool ok, bytes memory data) = target.call(buyPayload);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(data, 0x20), mload(data))
            }
        }
    }

    /// @inheritdoc ISenderHook
    function tokensToSend(address, uint256) external {
        attempted = true;
        (bool ok, bytes memory data) = _target.call(_reentryPayload);
        reentered = ok;
        revertData = data;
    }
}
