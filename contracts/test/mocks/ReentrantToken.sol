// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title ISenderHook
 * @notice What {ReentrantToken} calls on a hooked sender before its tokens move (like ERC-777's `tokensToSend`).
 */
interface ISenderHook {
    /// @notice Called by the token while `value` tokens of the hooked sender are being sent to `to`.
    /// @param to The receiver.
    /// @param value The amount.
    function tokensToSend(address to, uint256 value) external;
}

/**
 * @title ReentrantToken
 * @notice Test-only ERC-20 that, once armed, calls back into a target while the target is paying out, or hands
 * control to a sender (a malicious buyer) while the sender's tokens are being pulled.
 * @dev {arm}: when tokens leave `target`, the token makes one call `target.call(payload)` before returning and
 * records its outcome, so tests can show the target's reentrancy guard rejects it. {armSenderHook}: when tokens
 * leave `sender`, the token calls `ISenderHook(sender).tokensToSend` once, and the sender reenters on its own.
 */
contract ReentrantToken is ERC20 {
    address private _target;
    bytes private _payload;
    bool private _armed;
    address private _hookedSender;

    /// @notice Whether the callback ran.
    bool public attempted;
    /// @notice Whether the callback succeeded.
    bool public reentered;
    /// @notice The callback's revert data.
    bytes public revertData;

    constructor() ERC20("Reentrant", "RE") {}

    /// @notice Creates tokens for anyone (test-only).
    /// @param to The receiver.
    /// @param amount The amount.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Makes the next transfer out of `target` call `target` with `payload`.
    /// @param target The contract to call back.
    /// @param payload The calldata of the callback.
    function arm(address target, bytes calldata payload) external {
        _target = target;
        _payload = payload;
        _armed = true;
    }

    /// @notice Makes the next transfer out of `sender` call `ISenderHook(sender).tokensToSend` first.
    /// @param sender The contract to hand control to.
    function armSenderHook(address sender) external {
        _hookedSender = sender;
    }

    /// @inheritdoc ERC20
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && from == _hookedSender) {
            _hookedSender = address(0);
            ISenderHook(from).tokensToSend(to, value);
        }
        super._update(from, to, value);
        if (_armed && from == _target) {
            _armed = false;
            attempted = true;
            (bool ok, bytes memory data) = _target.call(_payload);
            reentered = ok;
            revertData = data;
        }
    }
}
