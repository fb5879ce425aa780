// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {DatasetRegistry} from "../DatasetRegistry.sol";
import {IDatasetRegistry} from "../interfaces/IDatasetRegistry.sol";
import {ReentrantBuyer} from "./mocks/ReentrantBuyer.sol";
import {ReentrantToken} from "./mocks/ReentrantToken.sol";
import {Test} from "./utils/Test.sol";

/**
 * @notice Attack tests: a token that calls back into DatasetRegistry during a withdrawal, and a malicious buyer
 * that gets control while its payment is pulled, are stopped by the reentrancy guard.
 */
contract DatasetRegistryReentrancyTest is Test {
    uint256 private constant PRICE = 1_000_000;

    ReentrantToken private token;
    DatasetRegistry private registry;
    address private owner;
    address private buyer;

    function setUp() public {
        token = new ReentrantToken();
        registry = new DatasetRegistry(IERC20(address(token)), address(this), makeAddr("fees"), 0);
        owner = makeAddr("owner");
        buyer = makeAddr("buyer");
        vm.prank(owner);
        registry.listDataset(keccak256("data"), "cid", IDatasetRegistry.AccessMode.Downloadable, PRICE);
        token.mint(buyer, PRICE);
        vm.startPrank(buyer);
        token.approve(address(registry), PRICE);
        registry.buyDataset(1, type(uint256).max);
        vm.stopPrank();
    }

    function test_withdraw_rejectsReentrantWithdraw() public {
        token.arm(address(registry), abi.encodeCall(IDatasetRegistry.withdraw, ()));
        vm.prank(owner);
        registry.withdraw();

        _assertGuardTripped(token.attempted(), token.reentered(), token.revertData());
        vm.assertEq(token.balanceOf(owner), PRICE, "paid once");
        vm.assertEq(registry.withdrawable(owner), 0, "zeroed before the transfer");
    }

    function test_buyDataset_rejectsReentrantBuyFromMaliciousBuyer() public {
        ReentrantBuyer attacker = new ReentrantBuyer();
        token.mint(address(attacker), 2 * PRICE);
        attacker.approve(IERC20(address(token)), address(registry), 2 * PRICE);
        token.armSenderHook(address(attacker));
        bytes memory buyCall = abi.encodeCall(IDatasetRegistry.buyDataset, (1, type(uint256).max));
        attacker.attack(address(registry), buyCall, buyCall);

        _assertGuardTripped(attacker.attempted(), attacker.reentered(), attacker.revertData());
        vm.assertTrue(registry.hasLicence(1, address(attacker)), "the outer purchase went through");
        vm.assertEq(token.balanceOf(address(attacker)), PRICE, "charged once");
        vm.assertEq(registry.withdrawable(owner), 2 * PRICE, "two sales");
    }

    function test_buyDataset_rejectsReentrantWithdrawFromMaliciousBuyer() public {
        ReentrantBuyer attacker = new ReentrantBuyer();
        token.mint(address(attacker), PRICE);
        attacker.approve(IERC20(address(token)), address(registry), PRICE);
        token.armSenderHook(address(attacker));
        attacker.attack(
            address(registry),
            abi.encodeCall(IDatasetRegistry.buyDataset, (1, type(uint256).max)),
            abi.encodeCall(IDatasetRegistry.withdraw, ())
        );
        _assertGuardTripped(attacker.attempted(), attacker.reentered(), attacker.revertData());
    }

    function _assertGuardTripped(bool attempted, bool reentered, bytes memory revertData) private pure {
        vm.assertTrue(attempted, "callback ran");
        vm.assertFalse(reentered, "callback rejected");
        vm.assertEq(
            keccak256(revertData),
            keccak256(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)),
            "rejected by the reentrancy guard"
        );
    }
}
