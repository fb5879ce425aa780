// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {ModelMarket} from "../ModelMarket.sol";
import {IFedTaskReader} from "../interfaces/IFedTaskReader.sol";
import {IModelMarket} from "../interfaces/IModelMarket.sol";
import {FeeToSinkToken} from "./mocks/FeeToSinkToken.sol";
import {MarketFixture} from "./utils/MarketFixture.sol";

/**
 * @notice Tests of ModelMarket: listing a final task's model, price and activity, sales split into fee, sponsor
 * cut and contributors' proceeds, proceeds claims by share, pull withdrawals, roles and pause.
 */
contract ModelMarketTest is MarketFixture {
    uint16 private constant SPONSOR_BPS = 2_000;

    // ------------------------------------------------------------------ constructor

    function test_constructor_setsTokenTaskRolesAndFee() public view {
        vm.assertEq(market.token(), address(token), "token");
        vm.assertEq(market.fedTask(), address(fedTask), "fedTask");
        (uint16 feeBps, address recipient) = market.feeConfig();
        vm.assertEq(feeBps, FEE_BPS, "fee");
        vm.assertEq(recipient, feeRecipient, "fee recipient");
        vm.assertEq(market.MAX_FEE_BPS(), 1_000, "fee cap");
        vm.assertEq(market.MAX_SPONSOR_BPS(), 9_000, "sponsor cap");
        vm.assertTrue(market.hasRole(market.DEFAULT_ADMIN_ROLE(), admin), "admin");
        vm.assertTrue(market.hasRole(market.PAUSER_ROLE(), admin), "pauser");
        vm.assertTrue(market.hasRole(market.FEE_ROLE(), admin), "fee role");
        vm.assertFalse(market.hasRole(market.DEFAULT_ADMIN_ROLE(), address(this)), "deployer gets nothing");
        vm.assertEq(market.modelCount(), 0, "no models");
    }

    function test_constructor_revertsWhenTokenZero() public {
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketZeroAddress.selector, "token"));
        new ModelMarket(IERC20(address(0)), fedTask, admin, feeRecipient, FEE_BPS);
    }

    function test_constructor_revertsWhenFedTaskZero() public {
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketZeroAddress.selector, "fedTask"));
        new ModelMarket(token, IFedTaskReader(address(0)), admin, feeRecipient, FEE_BPS);
    }

    function test_constructor_revertsWhenAdminZero() public {
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketZeroAddress.selector, "admin"));
        new ModelMarket(token, fedTask, address(0), feeRecipient, FEE_BPS);
    }

    function test_constructor_revertsWhenFeeRecipientZero() public {
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketZeroAddress.selector, "feeRecipient"));
        new ModelMarket(token, fedTask, admin, address(0), FEE_BPS);
    }

    function test_constructor_revertsWhenFeeAboveCap() public {
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketFeeTooHigh.selector, 1_001, 1_000));
        new ModelMarket(token, fedTask, admin, feeRecipient, 1_001);
    }

    // ------------------------------------------------------------------ listModel

    function test_listModel_recordsListingAndEmits() public {
        _completeTask();
        vm.expectEmit(true, true, true, true, address(market));
        emit IModelMarket.ModelListed(1, TASK_ID, sponsor, PRICE, SPONSOR_BPS, CARD_CID, CARD_HASH);
        vm.prank(sponsor);
        uint256 modelId = market.listModel(TASK_ID, PRICE, SPONSOR_BPS, CARD_CID, CARD_HASH);

        vm.assertEq(modelId, 1, "ids start at 1");
        vm.assertEq(market.modelCount(), 1, "count");
        vm.assertEq(market.modelOf(TASK_ID), 1, "model of the task");
        IModelMarket.ModelListing memory model = market.getModel(1);
        vm.assertEq(model.lister, sponsor, "lister");
        vm.assertEq(model.sponsorBps, SPONSOR_BPS, "sponsor bps");
        vm.assertTrue(model.active, "active");
        vm.assertEq(model.listedAt, 1_700_000_000, "listedAt");
        vm.assertEq(model.taskId, TASK_ID, "task");
        vm.assertEq(model.price, PRICE, "price");
        vm.assertEq(model.proceeds, 0, "no proceeds");
        vm.assertEq(model.claimed, 0, "nothing claimed");
        vm.assertEq(model.cardHash, CARD_HASH, "card hash");
        vm.assertEq(model.cardCid, CARD_CID, "card cid");
    }

    /// @notice Attack: someone other than the task's sponsor (here a contributor) lists its model.
    function test_listModel_revertsWhenCallerNotSponsor() public {
        _completeTask();
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketNotSponsor.selector, TASK_ID, alice));
        vm.prank(alice);
        market.listModel(TASK_ID, PRICE, SPONSOR_BPS, CARD_CID, CARD_HASH);
    }

    function test_listModel_revertsWhenTaskUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketNotSponsor.selector, 99, sponsor));
        vm.prank(sponsor);
        market.listModel(99, PRICE, SPONSOR_BPS, CARD_CID, CARD_HASH);
    }

    /// @notice Attack: the sponsor lists before the task is final (its shares could still change).
    function test_listModel_revertsWhenTaskNotFinal() public {
        fedTask.setSponsor(TASK_ID, sponsor);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketTaskNotFinal.selector, TASK_ID));
        vm.prank(sponsor);
        market.listModel(TASK_ID, PRICE, SPONSOR_BPS, CARD_CID, CARD_HASH);
    }

    /// @notice Attack: the sponsor lists the same task twice (e.g. with a higher cut for itself).
    function test_listModel_revertsWhenTaskAlreadyListed() public {
        _listModel(PRICE, SPONSOR_BPS);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketTaskAlreadyListed.selector, TASK_ID, 1));
        vm.prank(sponsor);
        market.listModel(TASK_ID, PRICE, 9_000, CARD_CID, CARD_HASH);
    }

    function test_listModel_revertsWhenSponsorBpsAboveMax() public {
        _completeTask();
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketSponsorBpsTooHigh.selector, 9_001, 9_000));
        vm.prank(sponsor);
        market.listModel(TASK_ID, PRICE, 9_001, CARD_CID, CARD_HASH);
    }

    function test_listModel_acceptsMaxSponsorBpsAtMaxFee() public {
        vm.prank(admin);
        market.setFeeBps(1_000);
        uint256 modelId = _listModel(PRICE, 9_000);
        _buyModel(modelId, buyer);
        vm.assertEq(market.withdrawable(feeRecipient), PRICE / 10, "fee");
        vm.assertEq(market.withdrawable(sponsor), (PRICE * 9) / 10, "sponsor");
        vm.assertEq(market.getModel(modelId).proceeds, 0, "nothing left for contributors");
    }

    function test_listModel_revertsWhenCardHashZero() public {
        _completeTask();
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketZeroHash.selector));
        vm.prank(sponsor);
        market.listModel(TASK_ID, PRICE, SPONSOR_BPS, CARD_CID, bytes32(0));
    }

    function test_listModel_revertsWhenPaused() public {
        _completeTask();
        vm.prank(admin);
        market.pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        vm.prank(sponsor);
        market.listModel(TASK_ID, PRICE, SPONSOR_BPS, CARD_CID, CARD_HASH);
    }

    // ------------------------------------------------------------------ setPrice / setActive

    function test_setPrice_changesPriceForLaterSalesAndEmits() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        vm.expectEmit(true, true, true, true, address(market));
        emit IModelMarket.ModelPriceChanged(modelId, 3 * PRICE);
        vm.prank(sponsor);
        market.setPrice(modelId, 3 * PRICE);
        _buyModel(modelId, buyer);
        (, uint256 pricePaid) = market.licenceOf(modelId, buyer);
        vm.assertEq(pricePaid, 3 * PRICE, "new price paid");
    }

    /// @notice Attack: a non-lister (a contributor) changes the price.
    function test_setPrice_revertsWhenCallerNotLister() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketNotLister.selector, modelId, alice));
        vm.prank(alice);
        market.setPrice(modelId, 1);
    }

    function test_setPrice_revertsWhenUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketUnknownModel.selector, 1));
        vm.prank(sponsor);
        market.setPrice(1, 1);
    }

    function test_setActive_togglesAndEmits() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        vm.expectEmit(true, true, true, true, address(market));
        emit IModelMarket.ModelActiveChanged(modelId, false);
        vm.prank(sponsor);
        market.setActive(modelId, false);
        vm.assertFalse(market.getModel(modelId).active, "inactive");
        vm.prank(sponsor);
        market.setActive(modelId, true);
        vm.assertTrue(market.getModel(modelId).active, "active again");
    }

    /// @notice Attack: a non-lister delists someone else's model.
    function test_setActive_revertsWhenCallerNotLister() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketNotLister.selector, modelId, stranger));
        vm.prank(stranger);
        market.setActive(modelId, false);
        vm.assertTrue(market.getModel(modelId).active, "still active");
    }

    function test_setActive_revertsWhenUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketUnknownModel.selector, 2));
        vm.prank(sponsor);
        market.setActive(2, false);
    }

    // ------------------------------------------------------------------ buy

    function test_buy_splitsPriceAndRecordsLicence() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        _fund(buyer, PRICE);
        // 100e18: fee 2.5e18, sponsor 20e18, contributors 77.5e18 (a multiple of 10,000 wei: no residue).
        vm.expectEmit(true, true, true, true, address(market));
        emit IModelMarket.ModelBought(modelId, buyer, PRICE, 2.5e18, 20e18, 77.5e18);
        vm.prank(buyer);
        market.buy(modelId, type(uint256).max);

        vm.assertEq(token.balanceOf(buyer), 0, "price pulled");
        vm.assertEq(token.balanceOf(address(market)), PRICE, "held by the market");
        vm.assertEq(market.withdrawable(feeRecipient), 2.5e18, "fee");
        vm.assertEq(market.withdrawable(sponsor), 20e18, "sponsor cut");
        vm.assertEq(market.getModel(modelId).proceeds, 77.5e18, "proceeds");
        vm.assertTrue(market.hasLicence(modelId, buyer), "licensed");
        vm.assertFalse(market.hasLicence(modelId, buyer2), "only the buyer");
        (uint64 atBlock, uint256 pricePaid) = market.licenceOf(modelId, buyer);
        vm.assertEq(atBlock, block.number, "block");
        vm.assertEq(pricePaid, PRICE, "price paid");
    }

    function test_buy_givesTheRoundingResidueToTheSponsor() public {
        // 123,456,789 wei: fee 3,086,419, cut 12,345,678, rest 108,024,692 -> contributors 108,020,000, residue 4,692.
        uint256 modelId = _listModel(123_456_789, 1_000);
        _fund(buyer, 123_456_789);
        vm.expectEmit(true, true, true, true, address(market));
        emit IModelMarket.ModelBought(modelId, buyer, 123_456_789, 3_086_419, 12_345_678 + 4_692, 108_020_000);
        vm.prank(buyer);
        market.buy(modelId, type(uint256).max);
        vm.assertEq(market.withdrawable(sponsor), 12_350_370, "cut + residue");
        vm.assertEq(market.getModel(modelId).proceeds, 108_020_000, "multiple of 10,000");
    }

    function test_buy_sendsAPriceBelow10000WeiToFeeAndSponsorOnly() public {
        uint256 modelId = _listModel(9_999, 0);
        _buyModel(modelId, buyer);
        vm.assertEq(market.getModel(modelId).proceeds, 0, "no proceeds");
        vm.assertEq(market.withdrawable(feeRecipient) + market.withdrawable(sponsor), 9_999, "all accounted for");
    }

    function test_buy_revertsWhenUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketUnknownModel.selector, 1));
        vm.prank(buyer);
        market.buy(1, type(uint256).max);
    }

    /// @notice Attack: the seller raises the price after the buyer looked (front-running the purchase).
    function test_buy_revertsWhenThePriceRoseAboveTheBuyersLimit() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        vm.prank(sponsor);
        market.setPrice(modelId, PRICE * 2);
        _fund(buyer, PRICE * 2);
        vm.expectRevert(
            abi.encodeWithSelector(IModelMarket.MarketPriceAboveMax.selector, modelId, PRICE * 2, PRICE)
        );
        vm.prank(buyer);
        market.buy(modelId, PRICE);
        vm.assertFalse(market.hasLicence(modelId, buyer), "no licence");
    }

    function test_buy_revertsWhenInactive() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        vm.prank(sponsor);
        market.setActive(modelId, false);
        _fund(buyer, PRICE);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketModelInactive.selector, modelId));
        vm.prank(buyer);
        market.buy(modelId, type(uint256).max);
    }

    /// @notice Attack: buying twice.
    function test_buy_revertsWhenAlreadyLicensed() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        _fund(buyer, 2 * PRICE);
        vm.startPrank(buyer);
        market.buy(modelId, type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketAlreadyLicensed.selector, modelId, buyer));
        market.buy(modelId, type(uint256).max);
        vm.stopPrank();
        vm.assertEq(token.balanceOf(buyer), PRICE, "charged once");
    }

    function test_buy_revertsWhenPaused() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        _fund(buyer, PRICE);
        vm.prank(admin);
        market.pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        vm.prank(buyer);
        market.buy(modelId, type(uint256).max);
    }

    /// @notice Attack: the lister raises the price just before a purchase; the buyer's exact allowance caps it.
    function test_buy_revertsWhenListerRaisedPriceAboveAllowance() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        _fund(buyer, 10 * PRICE);
        vm.prank(buyer);
        token.approve(address(market), PRICE);
        vm.prank(sponsor);
        market.setPrice(modelId, 10 * PRICE);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(market), PRICE, 10 * PRICE)
        );
        vm.prank(buyer);
        market.buy(modelId, type(uint256).max);
    }

    function test_buy_recordsFreeLicenceWithoutTransfer() public {
        uint256 modelId = _listModel(0, SPONSOR_BPS);
        vm.prank(buyer);
        market.buy(modelId, type(uint256).max);
        vm.assertTrue(market.hasLicence(modelId, buyer), "licensed");
        vm.assertEq(token.balanceOf(address(market)), 0, "nothing held");
    }

    function test_buy_creditsWhatWasReceived() public {
        FeeToSinkToken fot = new FeeToSinkToken();
        ModelMarket fotMarket = new ModelMarket(IERC20(address(fot)), fedTask, admin, feeRecipient, FEE_BPS);
        _completeTask();
        vm.prank(sponsor);
        fotMarket.listModel(TASK_ID, 1_000_000, SPONSOR_BPS, CARD_CID, CARD_HASH);
        fot.mint(buyer, 1_000_000);
        vm.startPrank(buyer);
        fot.approve(address(fotMarket), 1_000_000);
        fotMarket.buy(1, type(uint256).max);
        vm.stopPrank();

        // Received 990,000: fee 24,750, cut 198,000, rest 767,250 -> proceeds 760,000, residue 7,250.
        vm.assertEq(fot.balanceOf(address(fotMarket)), 990_000, "received 99 %");
        vm.assertEq(fotMarket.withdrawable(feeRecipient), 24_750, "fee on what was received");
        vm.assertEq(fotMarket.withdrawable(sponsor), 198_000 + 7_250, "cut + residue");
        vm.assertEq(fotMarket.getModel(1).proceeds, 760_000, "proceeds");
        (, uint256 pricePaid) = fotMarket.licenceOf(1, buyer);
        vm.assertEq(pricePaid, 990_000, "licence records what was received");
    }

    // ------------------------------------------------------------------ claimProceeds

    function test_claimProceeds_paysTheContributorsShareAndEmits() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        _buyModel(modelId, buyer);
        vm.expectEmit(true, true, true, true, address(market));
        emit IModelMarket.ProceedsClaimed(modelId, alice, 38.75e18);
        vm.prank(alice);
        vm.assertEq(market.claimProceeds(modelId), 38.75e18, "half of 77.5e18");
        vm.assertEq(token.balanceOf(alice), 38.75e18, "paid");
        vm.assertEq(market.claimedProceeds(modelId, alice), 38.75e18, "recorded");
        vm.assertEq(market.getModel(modelId).claimed, 38.75e18, "model total");
        vm.assertEq(market.claimableProceeds(modelId, alice), 0, "nothing more");
    }

    function test_claimProceeds_paysOnlyProceedsAddedSinceTheLastClaim() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        _buyModel(modelId, buyer);
        vm.prank(bob);
        market.claimProceeds(modelId);
        _buyModel(modelId, buyer2);
        vm.assertEq(market.claimableProceeds(modelId, bob), 23.25e18, "30 % of the second sale's part");
        vm.prank(bob);
        vm.assertEq(market.claimProceeds(modelId), 23.25e18, "second claim");
        vm.assertEq(token.balanceOf(bob), 46.5e18, "30 % of both");
    }

    function test_claimProceeds_claimsSumExactlyToProceeds() public {
        uint256 modelId = _listModel(123_456_789, 1_000);
        _buyModel(modelId, buyer);
        _buyModel(modelId, buyer2);
        uint256 proceeds = market.getModel(modelId).proceeds;
        vm.prank(alice);
        market.claimProceeds(modelId);
        vm.prank(carol);
        market.claimProceeds(modelId);
        vm.prank(bob);
        market.claimProceeds(modelId);
        vm.assertEq(token.balanceOf(alice) + token.balanceOf(bob) + token.balanceOf(carol), proceeds, "sum");
        vm.assertEq(market.getModel(modelId).claimed, proceeds, "all claimed");
        vm.assertEq(
            token.balanceOf(address(market)),
            market.withdrawable(sponsor) + market.withdrawable(feeRecipient),
            "only the pull balances remain"
        );
    }

    /// @notice Attack: the sponsor (not a contributor) claims contributors' proceeds.
    function test_claimProceeds_revertsWhenNotContributor() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        _buyModel(modelId, buyer);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketNotContributor.selector, modelId, sponsor));
        vm.prank(sponsor);
        market.claimProceeds(modelId);
    }

    /// @notice Attack: a contributor claims the same proceeds twice.
    function test_claimProceeds_revertsWhenClaimedTwice() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        _buyModel(modelId, buyer);
        vm.startPrank(alice);
        market.claimProceeds(modelId);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketNothingToClaim.selector, modelId, alice));
        market.claimProceeds(modelId);
        vm.stopPrank();
    }

    function test_claimProceeds_revertsBeforeAnySale() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketNothingToClaim.selector, modelId, carol));
        vm.prank(carol);
        market.claimProceeds(modelId);
    }

    function test_claimProceeds_revertsWhenUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketUnknownModel.selector, 5));
        vm.prank(alice);
        market.claimProceeds(5);
    }

    /// @notice Belt and braces: shares that grew after listing (a faulty FedTask) cannot take more than the
    /// model's proceeds, so they can never reach other models' proceeds or the pull balances.
    function test_claimProceeds_revertsWhenSharesWouldOverdrawProceeds() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        _buyModel(modelId, buyer);
        vm.prank(alice);
        market.claimProceeds(modelId); // 38.75e18 of 77.5e18
        fedTask.setShare(TASK_ID, carol, 10_000);
        vm.expectRevert(
            abi.encodeWithSelector(IModelMarket.MarketProceedsExceeded.selector, modelId, 116.25e18, 77.5e18)
        );
        vm.prank(carol);
        market.claimProceeds(modelId);
    }

    function test_claimProceeds_worksWhilePaused() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        _buyModel(modelId, buyer);
        vm.prank(admin);
        market.pause();
        vm.prank(alice);
        market.claimProceeds(modelId);
        vm.assertEq(token.balanceOf(alice), 38.75e18, "paid during a pause");
    }

    function test_claimProceeds_worksAfterDeactivation() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        _buyModel(modelId, buyer);
        vm.prank(sponsor);
        market.setActive(modelId, false);
        vm.prank(carol);
        vm.assertEq(market.claimProceeds(modelId), 15.5e18, "20 % of 77.5e18");
    }

    // ------------------------------------------------------------------ withdraw

    function test_withdraw_paysSponsorAndFeeRecipient() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        _buyModel(modelId, buyer);
        vm.expectEmit(true, true, true, true, address(market));
        emit IModelMarket.Withdrawn(sponsor, 20e18);
        vm.prank(sponsor);
        vm.assertEq(market.withdraw(), 20e18, "sponsor cut");
        vm.prank(feeRecipient);
        vm.assertEq(market.withdraw(), 2.5e18, "fee");
        vm.assertEq(token.balanceOf(sponsor), 20e18, "sponsor paid");
        vm.assertEq(token.balanceOf(feeRecipient), 2.5e18, "fee recipient paid");
        vm.assertEq(token.balanceOf(address(market)), 77.5e18, "proceeds remain");
    }

    function test_withdraw_revertsWhenNothingToWithdraw() public {
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketNothingToWithdraw.selector, sponsor));
        vm.prank(sponsor);
        market.withdraw();
    }

    function test_withdraw_revertsWhenWithdrawnTwice() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        _buyModel(modelId, buyer);
        vm.startPrank(sponsor);
        market.withdraw();
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketNothingToWithdraw.selector, sponsor));
        market.withdraw();
        vm.stopPrank();
    }

    function test_withdraw_worksWhilePaused() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        _buyModel(modelId, buyer);
        vm.prank(admin);
        market.pause();
        vm.prank(feeRecipient);
        market.withdraw();
        vm.assertEq(token.balanceOf(feeRecipient), 2.5e18, "paid during a pause");
    }

    // ------------------------------------------------------------------ fees, roles, pause

    function test_setFeeBps_appliesToLaterSalesAndEmits() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        vm.expectEmit(true, true, true, true, address(market));
        emit IModelMarket.FeeChanged(0);
        vm.prank(admin);
        market.setFeeBps(0);
        _buyModel(modelId, buyer);
        vm.assertEq(market.withdrawable(feeRecipient), 0, "no fee");
        vm.assertEq(market.getModel(modelId).proceeds, 80e18, "contributors get the fee's part");
    }

    /// @notice Attack: a fee admin sets the fee above the cap.
    function test_setFeeBps_revertsAboveCap() public {
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketFeeTooHigh.selector, 10_000, 1_000));
        vm.prank(admin);
        market.setFeeBps(10_000);
    }

    function test_setFeeBps_revertsWithoutFeeRole() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, sponsor, market.FEE_ROLE())
        );
        vm.prank(sponsor);
        market.setFeeBps(0);
    }

    function test_setFeeRecipient_redirectsLaterFeesOnly() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        _buyModel(modelId, buyer);
        vm.expectEmit(true, true, true, true, address(market));
        emit IModelMarket.FeeRecipientChanged(stranger);
        vm.prank(admin);
        market.setFeeRecipient(stranger);
        _buyModel(modelId, buyer2);
        vm.assertEq(market.withdrawable(feeRecipient), 2.5e18, "earlier fee stays");
        vm.assertEq(market.withdrawable(stranger), 2.5e18, "later fee to the new recipient");
    }

    function test_setFeeRecipient_revertsWhenZero() public {
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketZeroAddress.selector, "feeRecipient"));
        vm.prank(admin);
        market.setFeeRecipient(address(0));
    }

    function test_setFeeRecipient_revertsWithoutFeeRole() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, market.FEE_ROLE())
        );
        vm.prank(stranger);
        market.setFeeRecipient(stranger);
    }

    function test_pause_revertsWithoutPauserRole() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, market.PAUSER_ROLE()
            )
        );
        vm.prank(stranger);
        market.pause();
    }

    function test_unpause_resumesBuyingAndRevertsWithoutRole() public {
        uint256 modelId = _listModel(PRICE, SPONSOR_BPS);
        vm.prank(admin);
        market.pause();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, market.PAUSER_ROLE()
            )
        );
        vm.prank(stranger);
        market.unpause();
        vm.prank(admin);
        market.unpause();
        _buyModel(modelId, buyer);
        vm.assertTrue(market.hasLicence(modelId, buyer), "buying resumed");
    }

    // ------------------------------------------------------------------ views

    function test_getModel_revertsWhenUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketUnknownModel.selector, 1));
        market.getModel(1);
    }

    function test_claimableProceeds_revertsWhenUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IModelMarket.MarketUnknownModel.selector, 3));
        market.claimableProceeds(3, alice);
    }

    function test_views_areEmptyBeforeAnything() public view {
        vm.assertEq(market.modelOf(TASK_ID), 0, "no model");
        vm.assertFalse(market.hasLicence(1, buyer), "no licence");
        (uint64 atBlock, uint256 pricePaid) = market.licenceOf(1, buyer);
        vm.assertEq(atBlock, 0, "no block");
        vm.assertEq(pricePaid, 0, "no price");
        vm.assertEq(market.claimedProceeds(1, alice), 0, "nothing claimed");
        vm.assertEq(market.withdrawable(sponsor), 0, "nothing owed");
    }
}
