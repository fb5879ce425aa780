// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {DatasetRegistry} from "../../DatasetRegistry.sol";
import {ModelMarket} from "../../ModelMarket.sol";
import {IDatasetRegistry} from "../../interfaces/IDatasetRegistry.sol";
import {IModelMarket} from "../../interfaces/IModelMarket.sol";
import {MockFedTask} from "../mocks/MockFedTask.sol";
import {Test} from "../utils/Test.sol";

/**
 * @title MarketHandler
 * @notice Drives ModelMarket and DatasetRegistry through random action sequences for the invariant tests: tasks
 * becoming final and listed, many fresh buyers, repeat buyers, contributors claiming at random times, price and
 * activity changes, fee and fee recipient changes, pauses, dataset listings, sales and withdrawals. It keeps
 * ghost totals to check the contracts against.
 * @dev Every market or registry call is a low-level call, so the handler itself never reverts: an action whose
 * call must succeed (a claim during a pause, a valid purchase) and fails, or whose call must fail with a named
 * error (a purchase during a pause, a second purchase, a claim with nothing to claim) and does otherwise,
 * records the first such violation in {ghostFailure}, which the invariant tests check is empty. The handler
 * holds the whole token supply at the start and funds buyers by transfer, so nothing is minted afterwards.
 */
contract MarketHandler is Test {
    uint256 private constant TASKS = 4;
    uint256 private constant CONTRIBUTORS = 10;
    uint256 private constant SPONSORS = 2;
    uint256 private constant OWNERS = 3;
    uint256 private constant HASHES = 4;
    uint256 private constant MAX_PRICE = 1e24;

    ModelMarket public immutable market;
    DatasetRegistry public immutable registry;
    MockFedTask public immutable fedTask;
    IERC20 public immutable token;

    address[] private _contributors;
    address[] private _sponsors;
    address[] private _feeRecipients;
    address[] private _owners;
    address[] private _buyers;
    mapping(uint256 taskId => address[]) private _taskContributors;
    mapping(uint256 taskId => uint16[]) private _taskShares;

    /// @notice Per model: the contributors' parts of every sale, computed by the handler.
    mapping(uint256 modelId => uint256) public ghostProceeds;
    /// @notice Per model and contributor: what the handler saw paid by claims.
    mapping(uint256 modelId => mapping(address contributor => uint256)) public ghostClaimed;
    /// @notice Tokens that entered / left the market and the registry, as the handler saw them.
    uint256 public ghostMarketIn;
    uint256 public ghostMarketOut;
    uint256 public ghostRegistryIn;
    uint256 public ghostRegistryOut;
    /// @notice The first violation an action saw ("" while none).
    string public ghostFailure;
    /// @notice Number of calls per action outcome, for the test log.
    mapping(bytes32 outcome => uint256) public calls;

    constructor(ModelMarket market_, DatasetRegistry registry_, MockFedTask fedTask_, IERC20 token_) {
        market = market_;
        registry = registry_;
        fedTask = fedTask_;
        token = token_;
        for (uint256 i = 0; i < CONTRIBUTORS; ++i) {
            _contributors.push(address(uint160(0xC000 + i)));
        }
        for (uint256 i = 0; i < SPONSORS; ++i) {
            _sponsors.push(address(uint160(0x5000 + i)));
        }
        _feeRecipients.push(address(uint160(0xFEE0)));
        _feeRecipients.push(address(uint160(0xFEE1)));
        for (uint256 i = 0; i < OWNERS; ++i) {
            _owners.push(address(uint160(0x0DA0 + i)));
        }
        for (uint256 taskId = 1; taskId <= TASKS; ++taskId) {
            _setUpTask(taskId);
        }
    }

    // ------------------------------------------------------------------ model market actions

    /// @notice A task becomes final and its sponsor lists its model (once per task).
    function listModel(uint256 taskSeed, uint256 price, uint256 sponsorBps) external {
        uint256 taskId = taskSeed % TASKS + 1;
        if (market.modelOf(taskId) != 0) return;
        fedTask.setFinal(taskId, true);
        price = bound(price, 0, MAX_PRICE);
        sponsorBps = bound(sponsorBps, 0, 9_000);
        vm.prank(fedTask.sponsorOf(taskId));
        (bool ok, bytes memory data) = address(market).call(
            abi.encodeCall(IModelMarket.listModel, (taskId, price, uint16(sponsorBps), "card", keccak256("card")))
        );
        _expect(ok, data, market.paused(), _paused(), "listModel");
    }

    /// @notice A fresh buyer, funded with exactly the price, buys a model.
    function buy(uint256 modelSeed) external {
        (bool exists, uint256 modelId) = _pickModel(modelSeed);
        if (!exists) return;
        IModelMarket.ModelListing memory model = market.getModel(modelId);
        address account = _newBuyer(model.price, address(market));
        (uint16 feeBps,) = market.feeConfig();

        vm.prank(account);
        (bool ok, bytes memory data) = address(market).call(abi.encodeCall(IModelMarket.buy, (modelId, type(uint256).max)));
        if (market.paused()) return _expect(ok, data, true, _paused(), "buy");
        if (!model.active) {
            return _expect(ok, data, true, abi.encodeWithSelector(IModelMarket.MarketModelInactive.selector, modelId), "buy");
        }
        _expect(ok, data, false, "", "buy");
        if (!ok) return;

        uint256 fee = (model.price * feeBps) / 10_000;
        uint256 cut = (model.price * model.sponsorBps) / 10_000;
        uint256 contributors = ((model.price - fee - cut) / 10_000) * 10_000;
        ghostProceeds[modelId] += contributors;
        ghostMarketIn += model.price;
        if (market.getModel(modelId).proceeds != ghostProceeds[modelId]) _fail("buy: proceeds != reference");
        if (!market.hasLicence(modelId, account)) _fail("buy: no licence recorded");
    }

    /// @notice A past buyer tries to buy the same model again.
    function buyAgain(uint256 buyerSeed, uint256 modelSeed) external {
        if (_buyers.length == 0) return;
        address account = _buyers[buyerSeed % _buyers.length];
        (bool exists, uint256 modelId) = _pickModel(modelSeed);
        if (!exists || !market.hasLicence(modelId, account)) return;
        vm.prank(account);
        (bool ok, bytes memory data) = address(market).call(abi.encodeCall(IModelMarket.buy, (modelId, type(uint256).max)));
        bytes memory expected = market.paused()
            ? _paused()
            : market.getModel(modelId).active
                ? abi.encodeWithSelector(IModelMarket.MarketAlreadyLicensed.selector, modelId, account)
                : abi.encodeWithSelector(IModelMarket.MarketModelInactive.selector, modelId);
        _expect(ok, data, true, expected, "buyAgain");
    }

    /// @notice A contributor of a model's task (or, sometimes, its sponsor) claims proceeds, paused or not.
    function claimProceeds(uint256 modelSeed, uint256 contributorSeed) external {
        (bool exists, uint256 modelId) = _pickModel(modelSeed);
        if (!exists) return;
        uint256 taskId = market.getModel(modelId).taskId;
        if (contributorSeed % 7 == 0) {
            address lister = market.getModel(modelId).lister;
            vm.prank(lister);
            (bool denied, bytes memory reason) =
                address(market).call(abi.encodeCall(IModelMarket.claimProceeds, (modelId)));
            bytes memory notContributor =
                abi.encodeWithSelector(IModelMarket.MarketNotContributor.selector, modelId, lister);
            return _expect(denied, reason, true, notContributor, "claimProceeds");
        }
        uint256 index = contributorSeed % _taskContributors[taskId].length;
        _claim(modelId, _taskContributors[taskId][index], _taskShares[taskId][index]);
    }

    /// @notice Every contributor of a model's task claims; the model's claims must then equal its proceeds.
    function claimAll(uint256 modelSeed) external {
        (bool exists, uint256 modelId) = _pickModel(modelSeed);
        if (!exists) return;
        uint256 taskId = market.getModel(modelId).taskId;
        for (uint256 i = 0; i < _taskContributors[taskId].length; ++i) {
            _claim(modelId, _taskContributors[taskId][i], _taskShares[taskId][i]);
        }
        IModelMarket.ModelListing memory model = market.getModel(modelId);
        if (model.claimed != model.proceeds) _fail("claimAll: claims != proceeds once all claimed");
        ++calls["claimAll"];
    }

    /// @notice A sponsor or a fee recipient withdraws from the market, paused or not.
    function withdraw(uint256 actorSeed) external {
        address account = _marketPayee(actorSeed);
        uint256 amount = market.withdrawable(account);
        uint256 before = token.balanceOf(account);
        vm.prank(account);
        (bool ok, bytes memory data) = address(market).call(abi.encodeCall(IModelMarket.withdraw, ()));
        if (amount == 0) {
            bytes memory nothing = abi.encodeWithSelector(IModelMarket.MarketNothingToWithdraw.selector, account);
            return _expect(ok, data, true, nothing, "withdraw");
        }
        _expect(ok, data, false, "", "withdraw");
        if (!ok) return;
        ghostMarketOut += amount;
        if (token.balanceOf(account) - before != amount) _fail("withdraw: paid != withdrawable");
    }

    /// @notice The lister changes a model's price; sometimes a stranger tries and is refused.
    function setPrice(uint256 modelSeed, uint256 price, bool byStranger) external {
        (bool exists, uint256 modelId) = _pickModel(modelSeed);
        if (!exists) return;
        address caller = byStranger ? _contributors[0] : market.getModel(modelId).lister;
        vm.prank(caller);
        (bool ok, bytes memory data) =
            address(market).call(abi.encodeCall(IModelMarket.setPrice, (modelId, bound(price, 0, MAX_PRICE))));
        bytes memory notLister = abi.encodeWithSelector(IModelMarket.MarketNotLister.selector, modelId, caller);
        _expect(ok, data, byStranger, notLister, "setPrice");
    }

    /// @notice The lister activates or deactivates a model.
    function setActive(uint256 modelSeed, bool active) external {
        (bool exists, uint256 modelId) = _pickModel(modelSeed);
        if (!exists) return;
        vm.prank(market.getModel(modelId).lister);
        (bool ok, bytes memory data) = address(market).call(abi.encodeCall(IModelMarket.setActive, (modelId, active)));
        _expect(ok, data, false, "", "setActive");
    }

    // ------------------------------------------------------------------ fee admin and pauser actions

    /// @notice The fee admin sets the fee of both contracts; above the cap it is refused.
    function setFee(uint256 feeBps) external {
        feeBps = bound(feeBps, 0, 1_200);
        bool tooHigh = feeBps > 1_000;
        (bool ok, bytes memory data) = address(market).call(abi.encodeCall(IModelMarket.setFeeBps, (uint16(feeBps))));
        _expect(ok, data, tooHigh, abi.encodeWithSelector(IModelMarket.MarketFeeTooHigh.selector, feeBps, 1_000), "setFee");
        (ok, data) = address(registry).call(abi.encodeCall(IDatasetRegistry.setFeeBps, (uint16(feeBps))));
        _expect(
            ok, data, tooHigh, abi.encodeWithSelector(IDatasetRegistry.RegistryFeeTooHigh.selector, feeBps, 1_000), "setFee"
        );
    }

    /// @notice The fee admin switches the fee recipient of both contracts.
    function setFeeRecipient(uint256 seed) external {
        address recipient = _feeRecipients[seed % _feeRecipients.length];
        market.setFeeRecipient(recipient);
        registry.setFeeRecipient(recipient);
        ++calls["setFeeRecipient"];
    }

    /// @notice The pauser pauses both contracts (one time in three) or unpauses them.
    function togglePause(uint256 chance) external {
        if (market.paused()) {
            market.unpause();
            registry.unpause();
        } else if (chance % 3 == 0) {
            market.pause();
            registry.pause();
        }
        ++calls["togglePause"];
    }

    // ------------------------------------------------------------------ dataset registry actions

    /// @notice An owner lists a dataset (a hash it listed before is refused; another owner's hash is not).
    function listDataset(uint256 ownerSeed, uint256 hashSeed, bool downloadable, uint256 price) external {
        address owner = _owners[ownerSeed % OWNERS];
        bytes32 metadataHash = keccak256(abi.encode("dataset", hashSeed % HASHES));
        IDatasetRegistry.AccessMode mode =
            downloadable ? IDatasetRegistry.AccessMode.Downloadable : IDatasetRegistry.AccessMode.FederatedOnly;
        price = downloadable ? bound(price, 0, MAX_PRICE) : 0;
        uint256 existing = registry.datasetIdOf(owner, metadataHash);
        vm.prank(owner);
        (bool ok, bytes memory data) = address(registry).call(
            abi.encodeCall(IDatasetRegistry.listDataset, (metadataHash, "cid", mode, price))
        );
        bytes memory expected = registry.paused()
            ? _paused()
            : abi.encodeWithSelector(IDatasetRegistry.RegistryDuplicateListing.selector, owner, metadataHash, existing);
        _expect(ok, data, registry.paused() || existing != 0, expected, "listDataset");
    }

    /// @notice A fresh buyer, funded with exactly the price, buys a dataset.
    function buyDataset(uint256 datasetSeed) external {
        uint256 count = registry.datasetCount();
        if (count == 0) return;
        uint256 datasetId = datasetSeed % count + 1;
        IDatasetRegistry.Listing memory listing = registry.getListing(datasetId);
        address account = _newBuyer(listing.price, address(registry));
        vm.prank(account);
        (bool ok, bytes memory data) = address(registry).call(abi.encodeCall(IDatasetRegistry.buyDataset, (datasetId, type(uint256).max)));
        bytes memory expected;
        if (registry.paused()) {
            expected = _paused();
        } else if (!listing.active) {
            expected = abi.encodeWithSelector(IDatasetRegistry.RegistryDatasetInactive.selector, datasetId);
        } else if (listing.accessMode != IDatasetRegistry.AccessMode.Downloadable) {
            expected = abi.encodeWithSelector(IDatasetRegistry.RegistryNotDownloadable.selector, datasetId);
        }
        _expect(ok, data, expected.length != 0, expected, "buyDataset");
        if (ok) ghostRegistryIn += listing.price;
    }

    /// @notice An owner changes a listing's mode and price, or delists / relists it.
    function editDataset(uint256 datasetSeed, uint256 what, uint256 price) external {
        uint256 count = registry.datasetCount();
        if (count == 0) return;
        uint256 datasetId = datasetSeed % count + 1;
        IDatasetRegistry.Listing memory listing = registry.getListing(datasetId);
        bytes memory payload;
        bool refused;
        if (what % 3 == 0) {
            bool downloadable = what % 2 == 0;
            payload = abi.encodeCall(
                IDatasetRegistry.updateListing,
                (
                    datasetId,
                    downloadable ? IDatasetRegistry.AccessMode.Downloadable : IDatasetRegistry.AccessMode.FederatedOnly,
                    downloadable ? bound(price, 0, MAX_PRICE) : 0
                )
            );
        } else if (listing.active) {
            payload = abi.encodeCall(IDatasetRegistry.delistDataset, (datasetId));
        } else {
            payload = abi.encodeCall(IDatasetRegistry.relistDataset, (datasetId));
            refused = registry.paused();
        }
        vm.prank(listing.owner);
        (bool ok, bytes memory data) = address(registry).call(payload);
        _expect(ok, data, refused, _paused(), "editDataset");
    }

    /// @notice A dataset owner or a fee recipient withdraws from the registry, paused or not.
    function withdrawRegistry(uint256 actorSeed) external {
        uint256 n = OWNERS + _feeRecipients.length;
        uint256 k = actorSeed % n;
        address account = k < OWNERS ? _owners[k] : _feeRecipients[k - OWNERS];
        uint256 amount = registry.withdrawable(account);
        vm.prank(account);
        (bool ok, bytes memory data) = address(registry).call(abi.encodeCall(IDatasetRegistry.withdraw, ()));
        bytes memory nothing = abi.encodeWithSelector(IDatasetRegistry.RegistryNothingToWithdraw.selector, account);
        _expect(ok, data, amount == 0, nothing, "withdrawRegistry");
        if (ok) ghostRegistryOut += amount;
    }

    // ------------------------------------------------------------------ views for the invariants

    /// @notice The selectors the invariant fuzzer should call.
    function actions() external pure returns (bytes4[] memory selectors) {
        selectors = new bytes4[](15);
        selectors[0] = this.listModel.selector;
        selectors[1] = this.buy.selector;
        selectors[2] = this.buyAgain.selector;
        selectors[3] = this.claimProceeds.selector;
        selectors[4] = this.claimAll.selector;
        selectors[5] = this.withdraw.selector;
        selectors[6] = this.setPrice.selector;
        selectors[7] = this.setActive.selector;
        selectors[8] = this.setFee.selector;
        selectors[9] = this.setFeeRecipient.selector;
        selectors[10] = this.togglePause.selector;
        selectors[11] = this.listDataset.selector;
        selectors[12] = this.buyDataset.selector;
        selectors[13] = this.editDataset.selector;
        selectors[14] = this.withdrawRegistry.selector;
    }

    /// @notice A task's contributors and their shares (summing to 10,000).
    function taskShares(uint256 taskId) external view returns (address[] memory accounts, uint16[] memory bps) {
        return (_taskContributors[taskId], _taskShares[taskId]);
    }

    /// @notice Every account that can hold tokens in these runs, the handler and both contracts included.
    function holders() external view returns (address[] memory accounts) {
        uint256 fixedCount = 3 + CONTRIBUTORS + SPONSORS + _feeRecipients.length + OWNERS;
        accounts = new address[](fixedCount + _buyers.length);
        (accounts[0], accounts[1], accounts[2]) = (address(this), address(market), address(registry));
        uint256 k = 3;
        for (uint256 i = 0; i < CONTRIBUTORS; ++i) accounts[k++] = _contributors[i];
        for (uint256 i = 0; i < SPONSORS; ++i) accounts[k++] = _sponsors[i];
        for (uint256 i = 0; i < _feeRecipients.length; ++i) accounts[k++] = _feeRecipients[i];
        for (uint256 i = 0; i < OWNERS; ++i) accounts[k++] = _owners[i];
        for (uint256 i = 0; i < _buyers.length; ++i) accounts[k++] = _buyers[i];
    }

    /// @notice Sum of the market's pull balances (sponsors and fee recipients).
    function sumMarketWithdrawable() external view returns (uint256 total) {
        for (uint256 i = 0; i < SPONSORS + _feeRecipients.length; ++i) {
            total += market.withdrawable(_marketPayee(i));
        }
    }

    /// @notice Sum of the registry's pull balances (owners and fee recipients).
    function sumRegistryWithdrawable() external view returns (uint256 total) {
        for (uint256 i = 0; i < OWNERS; ++i) total += registry.withdrawable(_owners[i]);
        for (uint256 i = 0; i < _feeRecipients.length; ++i) total += registry.withdrawable(_feeRecipients[i]);
    }

    /// @notice Number of buyers created so far.
    function buyerCount() external view returns (uint256 count) {
        return _buyers.length;
    }

    // ------------------------------------------------------------------ private

    /// @dev Gives task `taskId` a sponsor and 1..CONTRIBUTORS contributors with shares summing to 10,000.
    function _setUpTask(uint256 taskId) private {
        uint256 seed = uint256(keccak256(abi.encode("task", taskId)));
        uint256 n = taskId == TASKS ? CONTRIBUTORS : seed % CONTRIBUTORS + 1;
        address sponsor = _sponsors[taskId % SPONSORS];
        fedTask.setSponsor(taskId, sponsor);
        uint256[] memory weights = new uint256[](n);
        uint256 total;
        for (uint256 i = 0; i < n; ++i) {
            weights[i] = 1 + (uint256(keccak256(abi.encode(seed, i))) % 1_000);
            total += weights[i];
        }
        uint256 prefix;
        for (uint256 i = 0; i < n; ++i) {
            uint256 before = (10_000 * prefix) / total;
            prefix += weights[i];
            uint16 bps = uint16((10_000 * prefix) / total - before);
            if (bps == 0) continue; // not a contributor: the shares of the others still sum to 10,000
            address account = _contributors[(i + taskId) % CONTRIBUTORS];
            _taskContributors[taskId].push(account);
            _taskShares[taskId].push(bps);
            fedTask.setShare(taskId, account, bps);
        }
    }

    /// @dev `account` claims from `modelId`; the amount must be `proceeds * bps / 10,000 - claimed` exactly.
    function _claim(uint256 modelId, address account, uint16 bps) private {
        uint256 entitled = (market.getModel(modelId).proceeds * bps) / 10_000;
        uint256 expected = entitled - ghostClaimed[modelId][account];
        uint256 before = token.balanceOf(account);
        vm.prank(account);
        (bool ok, bytes memory data) = address(market).call(abi.encodeCall(IModelMarket.claimProceeds, (modelId)));
        if (expected == 0) {
            bytes memory nothing = abi.encodeWithSelector(IModelMarket.MarketNothingToClaim.selector, modelId, account);
            return _expect(ok, data, true, nothing, "claimProceeds");
        }
        _expect(ok, data, false, "", "claimProceeds");
        if (!ok) return;
        if (token.balanceOf(account) - before != expected) _fail("claimProceeds: paid != reference");
        ghostClaimed[modelId][account] += expected;
        ghostMarketOut += expected;
    }

    /// @dev A new buyer holding exactly `amount`, which `spender` may pull.
    function _newBuyer(uint256 amount, address spender) private returns (address account) {
        account = address(uint160(0xB0_0000 + _buyers.length));
        _buyers.push(account);
        token.transfer(account, amount);
        vm.prank(account);
        token.approve(spender, amount);
    }

    /**
     * @dev Records a violation unless the call went as expected: success when `shouldFail` is false, else a
     * revert with exactly `expected`. Counts the outcome.
     */
    function _expect(bool ok, bytes memory data, bool shouldFail, bytes memory expected, string memory action)
        private
    {
        if (shouldFail) {
            if (ok) return _fail(string.concat(action, ": succeeded but should have reverted"));
            if (keccak256(data) != keccak256(expected)) return _fail(string.concat(action, ": wrong revert"));
            ++calls[keccak256(abi.encode(action, "refused"))];
        } else {
            if (!ok) return _fail(string.concat(action, ": reverted but should have succeeded"));
            ++calls[keccak256(abi.encode(action, "done"))];
        }
    }

    function _fail(string memory reason) private {
        if (bytes(ghostFailure).length == 0) ghostFailure = reason;
    }

    function _pickModel(uint256 seed) private view returns (bool exists, uint256 modelId) {
        uint256 count = market.modelCount();
        if (count == 0) return (false, 0);
        return (true, seed % count + 1);
    }

    function _marketPayee(uint256 seed) private view returns (address account) {
        uint256 k = seed % (SPONSORS + _feeRecipients.length);
        return k < SPONSORS ? _sponsors[k] : _feeRecipients[k - SPONSORS];
    }

    function _paused() private pure returns (bytes memory) {
        return abi.encodeWithSelector(Pausable.EnforcedPause.selector);
    }
}
