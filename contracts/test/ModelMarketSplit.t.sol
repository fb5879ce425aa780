// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MarketFixture} from "./utils/MarketFixture.sol";

/**
 * @notice Fuzz tests of ModelMarket's arithmetic against reference computations in the test: the sale split
 * (fee, sponsor cut, contributors' part, residue) and proceeds claims across many buyers, random shares, price
 * and fee changes, claims at random times. No wei is created or lost.
 */
contract ModelMarketSplitTest is MarketFixture {
    uint256 private constant MAX_CONTRIBUTORS = 12;
    uint256 private constant MAX_BUYERS = 16;
    uint256 private constant MAX_PRICE = 1e24;

    /// @dev What the test expects, kept independently of the market.
    struct Reference {
        uint256 proceeds;
        uint256 sponsor;
        uint256 fees;
        uint256 paid;
    }

    function testFuzz_buy_splitMatchesReference(uint256 price, uint256 feeBps, uint256 sponsorBps) public {
        price = bound(price, 0, CAP);
        feeBps = bound(feeBps, 0, 1_000);
        sponsorBps = bound(sponsorBps, 0, 9_000);
        vm.prank(admin);
        market.setFeeBps(uint16(feeBps));
        uint256 modelId = _listModel(price, uint16(sponsorBps));

        _buyModel(modelId, buyer);

        // Reference: the spec's formulas with plain arithmetic.
        uint256 fee = (price * feeBps) / 10_000;
        uint256 cut = (price * sponsorBps) / 10_000;
        uint256 rest = price - fee - cut;
        uint256 residue = rest % 10_000;
        uint256 contributors = rest - residue;

        vm.assertEq(market.withdrawable(feeRecipient), fee, "fee == reference");
        vm.assertEq(market.withdrawable(sponsor), cut + residue, "sponsor == cut + residue");
        vm.assertEq(market.getModel(modelId).proceeds, contributors, "proceeds == reference");
        vm.assertEq(contributors % 10_000, 0, "contributors' part is a multiple of 10,000 wei");
        vm.assertLe(residue, 9_999, "residue < 10,000 wei");
        vm.assertLe(fee * 10_000, price * 1_000, "fee <= 10 %");
        vm.assertEq(fee + cut + residue + contributors, price, "nothing created or lost");
        vm.assertEq(token.balanceOf(address(market)), price, "the market holds the price");
        vm.assertEq(token.totalSupply(), price, "supply unchanged by the sale");
    }

    function testFuzz_claimProceeds_manyBuyersRandomSharesSumExactly(
        uint256 seed,
        uint256 contributorCount,
        uint256 buyerCount,
        uint256 sponsorBps
    ) public {
        uint256 n = bound(contributorCount, 1, MAX_CONTRIBUTORS);
        uint256 m = bound(buyerCount, 1, MAX_BUYERS);
        (address[] memory contributors, uint16[] memory shares) = _randomShares(n, seed);
        fedTask.setCompleted(TASK_ID, sponsor, contributors, shares);
        vm.prank(sponsor);
        uint256 modelId = market.listModel(TASK_ID, 0, uint16(bound(sponsorBps, 0, 9_000)), CARD_CID, CARD_HASH);

        Reference memory ref;
        uint256[] memory claimedRef = new uint256[](n);
        for (uint256 k = 0; k < m; ++k) {
            _changePriceAndFee(modelId, uint256(keccak256(abi.encode(seed, "sale", k))));
            _buyAndCheck(modelId, address(uint160(0xB000 + k)), ref);
            // A random contributor claims at a random time, perhaps not at all.
            uint256 pick = uint256(keccak256(abi.encode(seed, "claim", k)));
            if (pick % 3 != 0) {
                uint256 j = pick % n;
                _claimAndCheck(modelId, contributors[j], shares[j], ref.proceeds, claimedRef, j);
            }
        }

        // Everyone claims what is left.
        for (uint256 j = 0; j < n; ++j) {
            _claimAndCheck(modelId, contributors[j], shares[j], ref.proceeds, claimedRef, j);
        }
        uint256 totalClaimed;
        for (uint256 j = 0; j < n; ++j) {
            vm.assertEq(claimedRef[j], (ref.proceeds * shares[j]) / 10_000, "each claims exactly its share");
            vm.assertEq(token.balanceOf(contributors[j]), claimedRef[j], "paid == claimed");
            totalClaimed += claimedRef[j];
        }
        vm.assertEq(totalClaimed, ref.proceeds, "claims sum to the proceeds to the wei");
        vm.assertEq(market.getModel(modelId).proceeds, ref.proceeds, "proceeds == reference");
        vm.assertEq(market.getModel(modelId).claimed, ref.proceeds, "all claimed");
        vm.assertEq(market.withdrawable(sponsor), ref.sponsor, "sponsor == reference");
        vm.assertEq(market.withdrawable(feeRecipient), ref.fees, "fees == reference");
        vm.assertEq(ref.proceeds + ref.sponsor + ref.fees, ref.paid, "split conserves every wei paid");

        _withdrawIfAny(sponsor);
        _withdrawIfAny(feeRecipient);
        vm.assertEq(token.balanceOf(address(market)), 0, "nothing stuck in the market");
        vm.assertEq(token.totalSupply(), ref.paid, "supply == what buyers were minted");
    }

    function testFuzz_claimProceeds_extremeSharesAndPrices(uint256 price, uint256 aliceBps, uint256 sales) public {
        price = bound(price, 0, CAP / 8);
        aliceBps = bound(aliceBps, 1, 9_999);
        sales = bound(sales, 1, 8);
        address[] memory contributors = new address[](2);
        (contributors[0], contributors[1]) = (alice, bob);
        uint16[] memory shares = new uint16[](2);
        (shares[0], shares[1]) = (uint16(aliceBps), uint16(10_000 - aliceBps));
        fedTask.setCompleted(TASK_ID, sponsor, contributors, shares);
        vm.prank(sponsor);
        uint256 modelId = market.listModel(TASK_ID, price, 0, CARD_CID, CARD_HASH);

        for (uint256 k = 0; k < sales; ++k) {
            _buyModel(modelId, address(uint160(0xB000 + k)));
            if (k == 0) _claimIfAny(modelId, alice);
        }
        uint256 proceeds = market.getModel(modelId).proceeds;
        _claimIfAny(modelId, alice);
        _claimIfAny(modelId, bob);

        vm.assertEq(token.balanceOf(alice), (proceeds / 10_000) * aliceBps, "alice exact");
        vm.assertEq(token.balanceOf(bob), (proceeds / 10_000) * (10_000 - aliceBps), "bob exact");
        vm.assertEq(token.balanceOf(alice) + token.balanceOf(bob), proceeds, "sum exact");
    }

    // ------------------------------------------------------------------ helpers

    /// @dev `n` contributors with random shares summing to exactly 10,000, each at least 1.
    function _randomShares(uint256 n, uint256 seed)
        private
        pure
        returns (address[] memory contributors, uint16[] memory shares)
    {
        contributors = new address[](n);
        shares = new uint16[](n);
        uint256[] memory weights = new uint256[](n);
        uint256 total;
        for (uint256 i = 0; i < n; ++i) {
            contributors[i] = address(uint160(0xC000 + i));
            weights[i] = 100 + (uint256(keccak256(abi.encode(seed, "weight", i))) % 1_000);
            total += weights[i];
        }
        // Prefix-sum rounding: the shares sum to 10,000 exactly and each is >= 100 * 10,000 / 13,200 > 0.
        uint256 prefix;
        for (uint256 i = 0; i < n; ++i) {
            uint256 before = (10_000 * prefix) / total;
            prefix += weights[i];
            shares[i] = uint16((10_000 * prefix) / total - before);
        }
    }

    /// @dev Lets the sponsor set a random price and the fee admin a random fee before a sale.
    function _changePriceAndFee(uint256 modelId, uint256 seed) private {
        vm.prank(sponsor);
        market.setPrice(modelId, seed % (MAX_PRICE + 1));
        if (seed % 4 == 0) {
            vm.prank(admin);
            market.setFeeBps(uint16((seed >> 64) % 1_001));
        }
    }

    /// @dev Funds `account`, buys, and checks the sale against the reference, which it updates.
    function _buyAndCheck(uint256 modelId, address account, Reference memory ref) private {
        uint256 price = market.getModel(modelId).price;
        uint16 sponsorBps = market.getModel(modelId).sponsorBps;
        (uint16 feeBps,) = market.feeConfig();
        uint256 proceedsBefore = market.getModel(modelId).proceeds;
        _buyModel(modelId, account);

        uint256 fee = (price * feeBps) / 10_000;
        uint256 cut = (price * sponsorBps) / 10_000;
        uint256 contributors = ((price - fee - cut) / 10_000) * 10_000;
        ref.fees += fee;
        ref.proceeds += contributors;
        ref.sponsor += price - fee - contributors;
        ref.paid += price;
        vm.assertEq(market.getModel(modelId).proceeds - proceedsBefore, contributors, "sale's part == reference");
    }

    /// @dev Claims for `contributor` when anything is claimable and checks the amount against the reference.
    function _claimAndCheck(
        uint256 modelId,
        address contributor,
        uint16 bps,
        uint256 proceeds,
        uint256[] memory claimedRef,
        uint256 index
    ) private {
        uint256 expected = (proceeds * bps) / 10_000 - claimedRef[index];
        vm.assertEq(market.claimableProceeds(modelId, contributor), expected, "claimable == reference");
        if (expected == 0) return;
        vm.prank(contributor);
        vm.assertEq(market.claimProceeds(modelId), expected, "claim == reference");
        claimedRef[index] += expected;
        vm.assertEq(market.claimedProceeds(modelId, contributor), claimedRef[index], "claimed == reference");
    }

    function _claimIfAny(uint256 modelId, address account) private {
        if (market.claimableProceeds(modelId, account) == 0) return;
        vm.prank(account);
        market.claimProceeds(modelId);
    }

    function _withdrawIfAny(address account) private {
        if (market.withdrawable(account) == 0) return;
        vm.prank(account);
        market.withdraw();
    }
}
