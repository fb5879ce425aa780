// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DatasetRegistry} from "../DatasetRegistry.sol";
import {ModelMarket} from "../ModelMarket.sol";
import {RewardToken} from "../RewardToken.sol";
import {IModelMarket} from "../interfaces/IModelMarket.sol";
import {MarketHandler} from "./handlers/MarketHandler.sol";
import {MockFedTask} from "./mocks/MockFedTask.sol";
import {Test} from "./utils/Test.sol";

/**
 * @notice Invariants of ModelMarket and DatasetRegistry under random action sequences driven by
 * {MarketHandler}: no proceeds claimed twice; claims never exceed proceeds and equal them once all claimed; the
 * token supply never changes; each contract's balance equals what it still owes.
 */
contract MarketInvariantTest is Test {
    /// @dev The fuzzer's selector filter (same layout as forge-std's `FuzzSelector`).
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    uint256 private constant SUPPLY = 1e30;
    uint256 private constant TASKS = 4;

    RewardToken private token;
    MockFedTask private fedTask;
    ModelMarket private market;
    DatasetRegistry private registry;
    MarketHandler private handler;

    function setUp() public {
        token = new RewardToken(address(this), SUPPLY);
        fedTask = new MockFedTask();
        market = new ModelMarket(token, fedTask, address(this), address(uint160(0xFEE0)), 250);
        registry = new DatasetRegistry(token, address(this), address(uint160(0xFEE0)), 250);
        handler = new MarketHandler(market, registry, fedTask, token);
        market.grantRole(market.PAUSER_ROLE(), address(handler));
        market.grantRole(market.FEE_ROLE(), address(handler));
        registry.grantRole(registry.PAUSER_ROLE(), address(handler));
        registry.grantRole(registry.FEE_ROLE(), address(handler));
        // The whole supply, minted once: nothing can mint afterwards.
        token.mint(address(handler), SUPPLY);
        token.renounceRole(token.MINTER_ROLE(), address(this));
    }

    /// @notice Only the handler is called by the invariant fuzzer.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice Only the handler's actions are called, not its views.
    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector({addr: address(handler), selectors: handler.actions()});
    }

    function invariant_everyActionBehavedAsSpecified() public view {
        vm.assertEq(handler.ghostFailure(), "", "no action saw a violation");
    }

    function invariant_noProceedsClaimedTwice() public view {
        uint256 count = market.modelCount();
        for (uint256 modelId = 1; modelId <= count; ++modelId) {
            IModelMarket.ModelListing memory model = market.getModel(modelId);
            (address[] memory accounts, uint16[] memory bps) = handler.taskShares(model.taskId);
            for (uint256 i = 0; i < accounts.length; ++i) {
                uint256 claimed = market.claimedProceeds(modelId, accounts[i]);
                vm.assertEq(claimed, handler.ghostClaimed(modelId, accounts[i]), "claimed == paid");
                vm.assertLe(claimed, (model.proceeds * bps[i]) / 10_000, "claimed <= share of proceeds");
            }
        }
    }

    function invariant_claimsNeverExceedProceedsAndEqualThemOnceAllClaimed() public view {
        uint256 count = market.modelCount();
        for (uint256 modelId = 1; modelId <= count; ++modelId) {
            IModelMarket.ModelListing memory model = market.getModel(modelId);
            (address[] memory accounts,) = handler.taskShares(model.taskId);
            uint256 claimed;
            uint256 claimable;
            for (uint256 i = 0; i < accounts.length; ++i) {
                claimed += market.claimedProceeds(modelId, accounts[i]);
                claimable += market.claimableProceeds(modelId, accounts[i]);
            }
            vm.assertEq(model.proceeds, handler.ghostProceeds(modelId), "proceeds == reference");
            vm.assertEq(model.proceeds % 10_000, 0, "proceeds are a multiple of 10,000 wei");
            vm.assertEq(model.claimed, claimed, "model total == sum of claims");
            vm.assertLe(claimed, model.proceeds, "claims <= proceeds");
            vm.assertEq(claimed + claimable, model.proceeds, "claims == proceeds once all claimed");
        }
    }

    function invariant_totalSupplyUnchanged() public view {
        vm.assertEq(token.totalSupply(), SUPPLY, "supply unchanged");
        address[] memory accounts = handler.holders();
        uint256 total;
        for (uint256 i = 0; i < accounts.length; ++i) {
            total += token.balanceOf(accounts[i]);
        }
        vm.assertEq(total, SUPPLY, "no wei created or lost");
    }

    function invariant_marketBalanceEqualsUnclaimedProceedsPlusWithdrawable() public view {
        uint256 unclaimed;
        uint256 count = market.modelCount();
        for (uint256 modelId = 1; modelId <= count; ++modelId) {
            IModelMarket.ModelListing memory model = market.getModel(modelId);
            unclaimed += model.proceeds - model.claimed;
        }
        vm.assertEq(
            token.balanceOf(address(market)),
            unclaimed + handler.sumMarketWithdrawable(),
            "balance == unclaimed proceeds + withdrawable"
        );
        vm.assertEq(
            token.balanceOf(address(market)), handler.ghostMarketIn() - handler.ghostMarketOut(), "balance == in - out"
        );
    }

    function invariant_registryBalanceEqualsWithdrawable() public view {
        vm.assertEq(token.balanceOf(address(registry)), handler.sumRegistryWithdrawable(), "balance == withdrawable");
        vm.assertEq(
            token.balanceOf(address(registry)),
            handler.ghostRegistryIn() - handler.ghostRegistryOut(),
            "balance == in - out"
        );
    }

    function invariant_oneListingPerTask() public view {
        uint256 count = market.modelCount();
        vm.assertLe(count, TASKS, "at most one listing per task");
        for (uint256 modelId = 1; modelId <= count; ++modelId) {
            vm.assertEq(market.modelOf(market.getModel(modelId).taskId), modelId, "task -> model");
        }
    }
}
