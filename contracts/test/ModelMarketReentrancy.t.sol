// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ModelMarket} from "../ModelMarket.sol";
import {IModelMarket} from "../interfaces/IModelMarket.sol";
import {MockFedTask} from "./mocks/MockFedTask.sol";
import {ReentrantBuyer} from "./mocks/ReentrantBuyer.sol";
import {ReentrantToken} from "./mocks/ReentrantToken.sol";
import {Test} from "./utils/Test.sol";

/**
 * @notice Attack tests: a token that calls back into ModelMarket during a payout, and a malicious buyer that
 * gets control (a token sender hook) while its payment is pulled, are stopped by the reentrancy guard; every
 * payout has already updated the books before the transfer (checks-effects-interactions).
 */
contract ModelMarketReentrancyTest is Test {
    uint256 private constant TASK_ID = 1;
    uint256 private constant PRICE = 1_000_000;

    ReentrantToken private token;
    MockFedTask private fedTask;
    ModelMarket private market;
    address private sponsor;
    address private alice;
    address private bob;
    address private buyer;
    uint256 private modelId;

    function setUp() public {
        token = new ReentrantToken();
        fedTask = new MockFedTask();
        market = new ModelMarket(IERC20(address(token)), fedTask, address(this), makeAddr("fees"), 0);
        sponsor = makeAddr("sponsor");
        alice = makeAddr("alice");
        bob = makeAddr("bob");
        buyer = makeAddr("buyer");
        address[] memory accounts = new address[](2);
        (accounts[0], accounts[1]) = (alice, bob);
        uint16[] memory bps = new uint16[](2);
        (bps[0], bps[1]) = (6_000, 4_000);
        fedTask.setCompleted(TASK_ID, sponsor, accounts, bps);
        vm.prank(sponsor);
        modelId = market.listModel(TASK_ID, PRICE, 1_000, "card", keccak256("card"));
        token.mint(buyer, PRICE);
        vm.startPrank(buyer);
        token.approve(address(market), PRICE);
        market.buy(modelId, type(uint256).max); // proceeds 900,000; sponsor 100,000
        vm.stopPrank();
    }

    function test_claimProceeds_rejectsReentrantClaim() public {
        token.arm(address(market), abi.encodeCall(IModelMarket.claimProceeds, (modelId)));
        vm.prank(alice);
        market.claimProceeds(modelId);

        _assertGuardTripped(token.attempted(), token.reentered(), token.revertData());
        vm.assertEq(token.balanceOf(alice), 540_000, "paid once");
        vm.assertEq(market.claimedProceeds(modelId, alice), 540_000, "recorded before the transfer");
        vm.assertEq(token.balanceOf(address(market)), 460_000, "the rest stays");
    }

    function test_withdraw_rejectsReentrantWithdraw() public {
        token.arm(address(market), abi.encodeCall(IModelMarket.withdraw, ()));
        vm.prank(sponsor);
        market.withdraw();

        _assertGuardTripped(token.attempted(), token.reentered(), token.revertData());
        vm.assertEq(token.balanceOf(sponsor), 100_000, "paid once");
        vm.assertEq(token.balanceOf(address(market)), 900_000, "proceeds untouched");
    }

    function test_withdraw_rejectsReentrantClaim() public {
        token.arm(address(market), abi.encodeCall(IModelMarket.claimProceeds, (modelId)));
        vm.prank(sponsor);
        market.withdraw();
        _assertGuardTripped(token.attempted(), token.reentered(), token.revertData());
    }

    function test_buy_rejectsReentrantBuyFromMaliciousBuyer() public {
        ReentrantBuyer attacker = _fundedAttacker(2 * PRICE);
        token.armSenderHook(address(attacker));
        bytes memory buyCall = abi.encodeCall(IModelMarket.buy, (modelId, type(uint256).max));
        attacker.attack(address(market), buyCall, buyCall);

        _assertGuardTripped(attacker.attempted(), attacker.reentered(), attacker.revertData());
        vm.assertTrue(market.hasLicence(modelId, address(attacker)), "the outer purchase went through");
        vm.assertEq(token.balanceOf(address(attacker)), PRICE, "charged once");
        vm.assertEq(market.getModel(modelId).proceeds, 1_800_000, "one more sale's part");
    }

    function test_buy_rejectsReentrantClaimFromMaliciousBuyer() public {
        ReentrantBuyer attacker = _fundedAttacker(PRICE);
        token.armSenderHook(address(attacker));
        attacker.attack(
            address(market),
            abi.encodeCall(IModelMarket.buy, (modelId, type(uint256).max)),
            abi.encodeCall(IModelMarket.claimProceeds, (modelId))
        );
        _assertGuardTripped(attacker.attempted(), attacker.reentered(), attacker.revertData());
    }

    function _fundedAttacker(uint256 amount) private returns (ReentrantBuyer attacker) {
        attacker = new ReentrantBuyer();
        token.mint(address(attacker), amount);
        attacker.approve(IERC20(address(token)), address(market), amount);
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
