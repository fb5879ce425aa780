// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDatasetRegistry} from "../interfaces/IDatasetRegistry.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";

/**
 * @notice Fuzz tests of DatasetRegistry's sale split against reference computations in the test: the fee and
 * the owner's amount add up to the price, across many buyers, price and fee changes; no wei created or lost.
 */
contract DatasetRegistrySplitTest is RegistryFixture {
    uint256 private constant MAX_BUYERS = 16;
    uint256 private constant MAX_PRICE = 1e24;

    function testFuzz_buyDataset_splitMatchesReference(uint256 price, uint256 feeBps) public {
        price = bound(price, 0, CAP);
        feeBps = bound(feeBps, 0, 1_000);
        vm.prank(admin);
        registry.setFeeBps(uint16(feeBps));
        _listDownloadable(price);
        _fund(buyer, price);

        vm.prank(buyer);
        registry.buyDataset(1, type(uint256).max);

        uint256 fee = (price * feeBps) / 10_000;
        vm.assertEq(registry.withdrawable(feeRecipient), fee, "fee == reference");
        vm.assertEq(registry.withdrawable(owner), price - fee, "owner == price - fee");
        vm.assertLe(fee * 10_000, price * 1_000, "fee <= 10 %");
        vm.assertEq(token.balanceOf(address(registry)), price, "the registry holds the price");
        vm.assertEq(token.totalSupply(), price, "supply unchanged by the sale");
        (, uint256 pricePaid) = registry.licenceOf(1, buyer);
        vm.assertEq(pricePaid, price, "licence price");
    }

    function testFuzz_buyDataset_manyBuyersConserveEveryWei(uint256 seed, uint256 buyerCount) public {
        uint256 m = bound(buyerCount, 1, MAX_BUYERS);
        _listDownloadable(0);
        uint256 ownerRef;
        uint256 feeRef;
        uint256 paid;
        for (uint256 k = 0; k < m; ++k) {
            uint256 draw = uint256(keccak256(abi.encode(seed, k)));
            uint256 price = draw % (MAX_PRICE + 1);
            vm.prank(owner);
            registry.updateListing(1, IDatasetRegistry.AccessMode.Downloadable, price);
            if (draw % 3 == 0) {
                vm.prank(admin);
                registry.setFeeBps(uint16((draw >> 128) % 1_001));
            }
            (uint16 feeBps,) = registry.feeConfig();
            address account = address(uint160(0xB000 + k));
            _fund(account, price);
            vm.prank(account);
            registry.buyDataset(1, type(uint256).max);

            uint256 fee = (price * feeBps) / 10_000;
            feeRef += fee;
            ownerRef += price - fee;
            paid += price;
            // The owner withdraws at random times.
            if (draw % 5 == 0 && registry.withdrawable(owner) != 0) {
                vm.prank(owner);
                registry.withdraw();
            }
        }
        vm.assertEq(registry.withdrawable(owner) + token.balanceOf(owner), ownerRef, "owner == reference");
        vm.assertEq(registry.withdrawable(feeRecipient), feeRef, "fees == reference");
        vm.assertEq(ownerRef + feeRef, paid, "split conserves every wei paid");
        vm.assertEq(
            token.balanceOf(address(registry)),
            registry.withdrawable(owner) + registry.withdrawable(feeRecipient),
            "balance == withdrawable"
        );
        if (registry.withdrawable(owner) != 0) {
            vm.prank(owner);
            registry.withdraw();
        }
        if (feeRef != 0) {
            vm.prank(feeRecipient);
            registry.withdraw();
        }
        vm.assertEq(token.balanceOf(address(registry)), 0, "nothing stuck in the registry");
        vm.assertEq(token.balanceOf(owner) + token.balanceOf(feeRecipient), paid, "every wei reached its payee");
        vm.assertEq(token.totalSupply(), paid, "supply == what buyers were minted");
    }
}
