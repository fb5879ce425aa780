// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IFedTaskReader} from "./interfaces/IFedTaskReader.sol";
import {IModelMarket} from "./interfaces/IModelMarket.sol";

/**
 * @title ModelMarket
 * @notice Sells licences for the models of completed fedmarket tasks; the payment flows back to the task's
 * contributors by their shares, to its sponsor, and to the protocol.
 * @dev Reads nothing of FedTask but {IFedTaskReader}. No function loops: a sale adds the contributors' part to
 * the listing's proceeds, and each contributor pulls its share later. Accounting (checked by the invariant
 * tests): `token.balanceOf(this) == Σ_models (proceeds - claimed) + Σ_accounts withdrawable`. Roles:
 * `DEFAULT_ADMIN_ROLE` (grants the others), `PAUSER_ROLE`, `FEE_ROLE`; the constructor's admin holds all three.
 */
contract ModelMarket is IModelMarket, AccessControl, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @dev A listing as stored: lister, cut, flag and timestamp share a slot.
    struct StoredModel {
        address lister;
        uint16 sponsorBps;
        bool active;
        uint64 listedAt;
        uint256 taskId;
        uint256 price;
        uint256 proceeds;
        uint256 claimed;
        bytes32 cardHash;
        string cardCid;
    }

    /// @dev A licence as stored, in one slot.
    struct StoredLicence {
        bool held;
        uint64 atBlock;
        uint184 pricePaid;
    }

    /// @notice Role of the accounts that pause and unpause.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    /// @notice Role of the accounts that set the protocol fee and its recipient.
    bytes32 public constant FEE_ROLE = keccak256("FEE_ROLE");
    /// @inheritdoc IModelMarket
    uint16 public constant MAX_FEE_BPS = 1_000;
    /// @notice The largest sponsor's cut, so that fee + cut never exceed a sale.
    uint16 public constant MAX_SPONSOR_BPS = BPS - MAX_FEE_BPS;
    uint16 private constant BPS = 10_000;

    IERC20 private immutable _token;
    IFedTaskReader private immutable _fedTask;

    address private _feeRecipient;
    uint16 private _feeBps;
    uint256 private _modelCount;
    mapping(uint256 modelId => StoredModel) private _models;
    mapping(uint256 taskId => uint256 modelId) private _modelOf;
    mapping(uint256 modelId => mapping(address account => StoredLicence)) private _licences;
    mapping(uint256 modelId => mapping(address contributor => uint256 amount)) private _claimed;
    mapping(address account => uint256 amount) private _withdrawable;

    /**
     * @notice Deploys the market.
     * @param token_ The token prices are paid in (reverts with {MarketZeroAddress}("token") when zero).
     * @param fedTask_ The FedTask contract read for sponsors, finality and shares ({MarketZeroAddress}("fedTask")).
     * @param admin Holds `DEFAULT_ADMIN_ROLE`, `PAUSER_ROLE` and `FEE_ROLE` ({MarketZeroAddress}("admin")).
     * @param feeRecipient_ Credited with protocol fees ({MarketZeroAddress}("feeRecipient") when zero).
     * @param feeBps_ The protocol fee in basis points ({MarketFeeTooHigh} above {MAX_FEE_BPS}).
     */
    constructor(IERC20 token_, IFedTaskReader fedTask_, address admin, address feeRecipient_, uint16 feeBps_) {
        if (address(token_) == address(0)) {
            revert MarketZeroAddress("token");
        }
        if (address(fedTask_) == address(0)) {
            revert MarketZeroAddress("fedTask");
        }
        if (admin == address(0)) {
            revert MarketZeroAddress("admin");
        }
        _token = token_;
        _fedTask = fedTask_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _grantRole(FEE_ROLE, admin);
        _setFeeRecipient(feeRecipient_);
        _setFeeBps(feeBps_);
    }

    /// @inheritdoc IModelMarket
    function listModel(uint256 taskId, uint256 price, uint16 sponsorBps, string calldata cardCid, bytes32 cardHash)
        external
        whenNotPaused
        returns (uint256 modelId)
    {
        if (_fedTask.sponsorOf(taskId) != msg.sender) {
            revert MarketNotSponsor(taskId, msg.sender);
        }
        if (!_fedTask.isFinal(taskId)) {
            revert MarketTaskNotFinal(taskId);
        }
        uint256 existing = _modelOf[taskId];
        if (existing != 0) {
            revert MarketTaskAlreadyListed(taskId, existing);
        }
        if (sponsorBps > MAX_SPONSOR_BPS) {
            revert MarketSponsorBpsTooHigh(sponsorBps, MAX_SPONSOR_BPS);
        }
        if (cardHash == bytes32(0)) {
            revert MarketZeroHash();
        }
        modelId = ++_modelCount;
        _modelOf[taskId] = modelId;
        StoredModel storage model = _models[modelId];
        model.lister = msg.sender;
        model.sponsorBps = sponsorBps;
        model.active = true;
        model.listedAt = uint64(block.timestamp);
        model.taskId = taskId;
        model.price = price;
        model.cardHash = cardHash;
        model.cardCid = cardCid;
        emit ModelListed(modelId, taskId, msg.sender, price, sponsorBps, cardCid, cardHash);
    }

    /// @inheritdoc IModelMarket
    function setPrice(uint256 modelId, uint256 price) external {
        _listed(modelId).price = price;
        emit ModelPriceChanged(modelId, price);
    }

    /// @inheritdoc IModelMarket
    function setActive(uint256 modelId, bool active) external {
        _listed(modelId).active = active;
        emit ModelActiveChanged(modelId, active);
    }

    /// @inheritdoc IModelMarket
    function buy(uint256 modelId, uint256 maxPrice) external whenNotPaused nonReentrant {
        StoredModel storage model = _existing(modelId);
        if (!model.active) {
            revert MarketModelInactive(modelId);
        }
        if (model.price > maxPrice) {
            revert MarketPriceAboveMax(modelId, model.price, maxPrice);
        }
        if (_licences[modelId][msg.sender].held) {
            revert MarketAlreadyLicensed(modelId, msg.sender);
        }
        uint256 received = _pull(model.price);
        (uint256 fee, uint256 sponsorAmount, uint256 contributorsAmount) = _split(received, model.sponsorBps);
        _licences[modelId][msg.sender] =
            StoredLicence({held: true, atBlock: uint64(block.number), pricePaid: SafeCast.toUint184(received)});
        model.proceeds += contributorsAmount;
        _withdrawable[_feeRecipient] += fee;
        _withdrawable[model.lister] += sponsorAmount;
        emit ModelBought(modelId, msg.sender, received, fee, sponsorAmount, contributorsAmount);
    }

    /// @inheritdoc IModelMarket
    function claimProceeds(uint256 modelId) external nonReentrant returns (uint256 amount) {
        StoredModel storage model = _existing(modelId);
        uint256 bps = _fedTask.shareOf(model.taskId, msg.sender);
        if (bps == 0) {
            revert MarketNotContributor(modelId, msg.sender);
        }
        uint256 proceeds = model.proceeds;
        uint256 entitled = (proceeds * bps) / BPS;
        uint256 claimedBefore = _claimed[modelId][msg.sender];
        if (entitled <= claimedBefore) {
            revert MarketNothingToClaim(modelId, msg.sender);
        }
        amount = entitled - claimedBefore;
        uint256 claimedAfter = model.claimed + amount;
        if (claimedAfter > proceeds) {
            revert MarketProceedsExceeded(modelId, claimedAfter, proceeds);
        }
        _claimed[modelId][msg.sender] = entitled;
        model.claimed = claimedAfter;
        emit ProceedsClaimed(modelId, msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IModelMarket
    function withdraw() external nonReentrant returns (uint256 amount) {
        amount = _withdrawable[msg.sender];
        if (amount == 0) {
            revert MarketNothingToWithdraw(msg.sender);
        }
        _withdrawable[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IModelMarket
    function setFeeBps(uint16 feeBps_) external onlyRole(FEE_ROLE) {
        _setFeeBps(feeBps_);
    }

    /// @inheritdoc IModelMarket
    function setFeeRecipient(address feeRecipient_) external onlyRole(FEE_ROLE) {
        _setFeeRecipient(feeRecipient_);
    }

    /// @inheritdoc IModelMarket
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IModelMarket
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @inheritdoc IModelMarket
    function getModel(uint256 modelId) external view returns (ModelListing memory listing) {
        StoredModel storage model = _existing(modelId);
        return ModelListing({
            lister: model.lister,
            sponsorBps: model.sponsorBps,
            active: model.active,
            listedAt: model.listedAt,
            taskId: model.taskId,
            price: model.price,
            proceeds: model.proceeds,
            claimed: model.claimed,
            cardHash: model.cardHash,
            cardCid: model.cardCid
        });
    }

    /// @inheritdoc IModelMarket
    function modelCount() external view returns (uint256 count) {
        return _modelCount;
    }

    /// @inheritdoc IModelMarket
    function modelOf(uint256 taskId) external view returns (uint256 modelId) {
        return _modelOf[taskId];
    }

    /// @inheritdoc IModelMarket
    function hasLicence(uint256 modelId, address account) external view returns (bool licensed) {
        return _licences[modelId][account].held;
    }

    /// @inheritdoc IModelMarket
    function licenceOf(uint256 modelId, address account) external view returns (uint64 atBlock, uint256 pricePaid) {
        StoredLicence storage licence = _licences[modelId][account];
        return (licence.atBlock, licence.pricePaid);
    }

    /// @inheritdoc IModelMarket
    function claimableProceeds(uint256 modelId, address account) external view returns (uint256 amount) {
        StoredModel storage model = _existing(modelId);
        uint256 entitled = (model.proceeds * _fedTask.shareOf(model.taskId, account)) / BPS;
        uint256 claimedBefore = _claimed[modelId][account];
        return entitled > claimedBefore ? entitled - claimedBefore : 0;
    }

    /// @inheritdoc IModelMarket
    function claimedProceeds(uint256 modelId, address account) external view returns (uint256 amount) {
        return _claimed[modelId][account];
    }

    /// @inheritdoc IModelMarket
    function withdrawable(address account) external view returns (uint256 amount) {
        return _withdrawable[account];
    }

    /// @inheritdoc IModelMarket
    function feeConfig() external view returns (uint16 feeBps, address feeRecipient) {
        return (_feeBps, _feeRecipient);
    }

    /// @inheritdoc IModelMarket
    function token() external view returns (address tokenAddress) {
        return address(_token);
    }

    /// @inheritdoc IModelMarket
    function fedTask() external view returns (address fedTaskAddress) {
        return address(_fedTask);
    }

    /**
     * @dev Splits a sale: fee, sponsor's cut plus residue, contributors' part (a multiple of 10,000 wei).
     * @param received The amount received from the buyer.
     * @param sponsorBps The listing's sponsor cut (at most {MAX_SPONSOR_BPS}, so the subtraction never underflows).
     * @return fee The protocol fee.
     * @return sponsorAmount The sponsor's cut plus the residue.
     * @return contributorsAmount The contributors' part.
     */
    function _split(uint256 received, uint16 sponsorBps)
        private
        view
        returns (uint256 fee, uint256 sponsorAmount, uint256 contributorsAmount)
    {
        fee = (received * _feeBps) / BPS;
        uint256 sponsorCut = (received * sponsorBps) / BPS;
        uint256 rest = received - fee - sponsorCut;
        uint256 residue = rest % BPS;
        contributorsAmount = rest - residue;
        sponsorAmount = sponsorCut + residue;
    }

    /**
     * @dev Pulls `amount` from the caller and returns what the market actually received.
     * @param amount The amount asked for.
     * @return received The market's balance increase.
     */
    function _pull(uint256 amount) private returns (uint256 received) {
        if (amount == 0) {
            return 0;
        }
        uint256 before = _token.balanceOf(address(this));
        _token.safeTransferFrom(msg.sender, address(this), amount);
        return _token.balanceOf(address(this)) - before;
    }

    /**
     * @dev Sets the protocol fee.
     * @param feeBps_ The fee in basis points (at most {MAX_FEE_BPS}).
     */
    function _setFeeBps(uint16 feeBps_) private {
        if (feeBps_ > MAX_FEE_BPS) {
            revert MarketFeeTooHigh(feeBps_, MAX_FEE_BPS);
        }
        _feeBps = feeBps_;
        emit FeeChanged(feeBps_);
    }

    /**
     * @dev Sets the fee recipient.
     * @param feeRecipient_ The new fee recipient (non-zero).
     */
    function _setFeeRecipient(address feeRecipient_) private {
        if (feeRecipient_ == address(0)) {
            revert MarketZeroAddress("feeRecipient");
        }
        _feeRecipient = feeRecipient_;
        emit FeeRecipientChanged(feeRecipient_);
    }

    /**
     * @dev Returns the stored listing `modelId`, reverting unless the caller listed it.
     * @param modelId The listing's id.
     * @return model The stored listing.
     */
    function _listed(uint256 modelId) private view returns (StoredModel storage model) {
        model = _existing(modelId);
        if (model.lister != msg.sender) {
            revert MarketNotLister(modelId, msg.sender);
        }
    }

    /**
     * @dev Returns the stored listing `modelId`, reverting with {MarketUnknownModel} when there is none.
     * @param modelId The listing's id.
     * @return model The stored listing.
     */
    function _existing(uint256 modelId) private view returns (StoredModel storage model) {
        model = _models[modelId];
        if (model.lister == address(0)) {
            revert MarketUnknownModel(modelId);
        }
    }
}
