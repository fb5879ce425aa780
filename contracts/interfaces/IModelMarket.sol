// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IModelMarket
 * @notice Types, errors, events and functions of the fedmarket model market.
 * @dev One listing per completed task, made by the task's sponsor once the task is final (its shares can no
 * longer change). A sale splits the amount received into a capped protocol fee, the sponsor's cut, and the
 * contributors' part rounded down to a multiple of 10,000 wei (the residue goes to the sponsor). The
 * contributors' part is added to the listing's `proceeds`; contributor `i` of the task pulls
 * `proceeds * shareOf(task, i) / 10,000 - claimed_i` whenever it likes, so a sale costs the same whatever
 * the number of contributors and the contributors' claims sum to the proceeds to the wei. Sponsor and fee
 * recipient balances are pull payments too ({withdraw}). A pause stops listing and buying, never claims or
 * withdrawals.
 */
interface IModelMarket {
    /**
     * @notice A model listing.
     * @param lister The task's sponsor, who listed the model and receives the sponsor's cut.
     * @param sponsorBps The sponsor's cut of each sale, in basis points (fixed at listing).
     * @param active Whether the model can be bought.
     * @param listedAt Timestamp of the block that recorded the listing.
     * @param taskId The completed task that trained the model (its shares are the contributors' shares).
     * @param price Price of a licence in token wei.
     * @param proceeds Contributors' part of every sale so far (a multiple of 10,000 wei).
     * @param claimed Proceeds already claimed by contributors.
     * @param cardHash Hash of the model card (the document describing and locating the model).
     * @param cardCid Content identifier of the model card.
     */
    struct ModelListing {
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

    /**
     * @notice Only the task's sponsor may list its model.
     * @param taskId The task's id.
     * @param caller The account that tried.
     */
    error MarketNotSponsor(uint256 taskId, address caller);

    /**
     * @notice The task is not final yet (not Completed, or its last challenge window is open or disputed).
     * @param taskId The task's id.
     */
    error MarketTaskNotFinal(uint256 taskId);

    /**
     * @notice The task's model is already listed (one listing per task).
     * @param taskId The task's id.
     * @param modelId The existing listing's id.
     */
    error MarketTaskAlreadyListed(uint256 taskId, uint256 modelId);

    /**
     * @notice The sponsor's cut is above the largest allowed (10,000 - {MAX_FEE_BPS}, so the fee always fits).
     * @param sponsorBps The cut asked for.
     * @param maxSponsorBps The largest allowed.
     */
    error MarketSponsorBpsTooHigh(uint256 sponsorBps, uint256 maxSponsorBps);

    /// @notice The model card hash is zero.
    error MarketZeroHash();

    /**
     * @notice No listing has this id.
     * @param modelId The id given.
     */
    error MarketUnknownModel(uint256 modelId);

    /**
     * @notice Only the account that listed the model may do this.
     * @param modelId The listing's id.
     * @param caller The account that tried.
     */
    error MarketNotLister(uint256 modelId, address caller);

    /**
     * @notice The listing is inactive, so it cannot be bought.
     * @param modelId The listing's id.
     */
    error MarketModelInactive(uint256 modelId);

    /**
     * @notice The model's price is above what the buyer agreed to pay.
     * @param modelId The listing's id.
     * @param price The current price.
     * @param maxPrice The buyer's limit.
     */
    error MarketPriceAboveMax(uint256 modelId, uint256 price, uint256 maxPrice);

    /**
     * @notice The buyer already holds a licence for this model.
     * @param modelId The listing's id.
     * @param buyer The buyer.
     */
    error MarketAlreadyLicensed(uint256 modelId, address buyer);

    /**
     * @notice The caller has no share of the task behind the model.
     * @param modelId The listing's id.
     * @param account The caller.
     */
    error MarketNotContributor(uint256 modelId, address account);

    /**
     * @notice The contributor has already claimed everything its share of the proceeds entitles it to.
     * @param modelId The listing's id.
     * @param account The contributor.
     */
    error MarketNothingToClaim(uint256 modelId, address account);

    /**
     * @notice A claim would take the listing's claimed total above its proceeds (belt and braces: impossible
     * while the task's shares sum to 10,000).
     * @param modelId The listing's id.
     * @param claimedAfter What the claimed total would become.
     * @param proceeds The listing's proceeds.
     */
    error MarketProceedsExceeded(uint256 modelId, uint256 claimedAfter, uint256 proceeds);

    /**
     * @notice The account has no balance to withdraw.
     * @param account The caller.
     */
    error MarketNothingToWithdraw(address account);

    /**
     * @notice The protocol fee asked for is above the cap.
     * @param feeBps The fee asked for, in basis points.
     * @param maxFeeBps The cap ({MAX_FEE_BPS}).
     */
    error MarketFeeTooHigh(uint256 feeBps, uint256 maxFeeBps);

    /**
     * @notice An address argument is zero.
     * @param field The argument's name ("token", "fedTask", "admin" or "feeRecipient").
     */
    error MarketZeroAddress(string field);

    /**
     * @notice A task's model was listed.
     * @param modelId The new listing's id.
     * @param taskId The task that trained the model.
     * @param lister The task's sponsor.
     * @param price Price of a licence in token wei.
     * @param sponsorBps The sponsor's cut of each sale, in basis points.
     * @param cardCid Content identifier of the model card.
     * @param cardHash Hash of the model card.
     */
    event ModelListed(
        uint256 indexed modelId,
        uint256 indexed taskId,
        address indexed lister,
        uint256 price,
        uint16 sponsorBps,
        string cardCid,
        bytes32 cardHash
    );

    /**
     * @notice A listing's price was changed by its lister.
     * @param modelId The listing's id.
     * @param price The new price in token wei.
     */
    event ModelPriceChanged(uint256 indexed modelId, uint256 price);

    /**
     * @notice A listing was activated or deactivated by its lister.
     * @param modelId The listing's id.
     * @param active Whether the model can now be bought.
     */
    event ModelActiveChanged(uint256 indexed modelId, bool active);

    /**
     * @notice A licence for a model was bought.
     * @param modelId The listing's id.
     * @param buyer The licence holder.
     * @param paid The amount received from the buyer, in token wei.
     * @param fee The protocol fee credited to the fee recipient.
     * @param sponsorAmount The sponsor's cut plus the rounding residue, credited to the lister.
     * @param contributorsAmount The contributors' part added to the proceeds (a multiple of 10,000 wei).
     */
    event ModelBought(
        uint256 indexed modelId,
        address indexed buyer,
        uint256 paid,
        uint256 fee,
        uint256 sponsorAmount,
        uint256 contributorsAmount
    );

    /**
     * @notice A contributor claimed its share of a listing's proceeds.
     * @param modelId The listing's id.
     * @param contributor The contributor paid.
     * @param amount The amount paid, in token wei.
     */
    event ProceedsClaimed(uint256 indexed modelId, address indexed contributor, uint256 amount);

    /**
     * @notice An account withdrew its balance (sponsor cuts, protocol fees).
     * @param account The account paid.
     * @param amount The amount paid, in token wei.
     */
    event Withdrawn(address indexed account, uint256 amount);

    /**
     * @notice The protocol fee was changed.
     * @param feeBps The new fee in basis points.
     */
    event FeeChanged(uint256 feeBps);

    /**
     * @notice The account credited with protocol fees was changed (balances already credited stay put).
     * @param feeRecipient The new fee recipient.
     */
    event FeeRecipientChanged(address indexed feeRecipient);

    /**
     * @notice Lists the model of a completed task, as its sponsor.
     * @dev Not while paused (`EnforcedPause`). Reverts with {MarketNotSponsor} (also for an unknown task),
     * {MarketTaskNotFinal}, {MarketTaskAlreadyListed}, {MarketSponsorBpsTooHigh} or {MarketZeroHash}, in that
     * order. The listing starts active.
     * @param taskId The task's id.
     * @param price Price of a licence in token wei.
     * @param sponsorBps The sponsor's cut of each sale (at most 10,000 - {MAX_FEE_BPS}); fixed.
     * @param cardCid Content identifier of the model card.
     * @param cardHash Hash of the model card (non-zero).
     * @return modelId The new listing's id (ids start at 1).
     */
    function listModel(uint256 taskId, uint256 price, uint16 sponsorBps, string calldata cardCid, bytes32 cardHash)
        external
        returns (uint256 modelId);

    /**
     * @notice Changes a listing's price (for later sales).
     * @dev Lister only: {MarketUnknownModel}, {MarketNotLister}.
     * @param modelId The listing's id.
     * @param price The new price in token wei.
     */
    function setPrice(uint256 modelId, uint256 price) external;

    /**
     * @notice Activates or deactivates a listing.
     * @dev Lister only: {MarketUnknownModel}, {MarketNotLister}.
     * @param modelId The listing's id.
     * @param active Whether the model can be bought.
     */
    function setActive(uint256 modelId, bool active) external;

    /**
     * @notice Buys a licence for a model at its current price.
     * @dev Not while paused. Pulls the price from the caller (approve it first; the allowance bounds what a
     * later price change can take). With `r` the amount received: `fee = r * feeBps / 10,000`,
     * `sponsorCut = r * sponsorBps / 10,000`, contributors' part `c = (r - fee - sponsorCut)` rounded down to a
     * multiple of 10,000 wei, residue to the sponsor. Reverts with {MarketUnknownModel},
     * {MarketModelInactive}, {MarketPriceAboveMax} or {MarketAlreadyLicensed}, in that order.
     * @param modelId The listing's id.
     * @param maxPrice The most the buyer agrees to pay: a price raised after the buyer looked (even in the same
     * block, ahead of the purchase) reverts instead of charging more.
     */
    function buy(uint256 modelId, uint256 maxPrice) external;

    /**
     * @notice Pays the caller its share of the listing's proceeds not yet claimed:
     * `proceeds * shareOf(taskId, caller) / 10,000 - claimed(caller)` (exact).
     * @dev Never blocked by a pause. Reverts with {MarketUnknownModel}, {MarketNotContributor},
     * {MarketNothingToClaim} or {MarketProceedsExceeded}, in that order.
     * @param modelId The listing's id.
     * @return amount The amount paid, in token wei.
     */
    function claimProceeds(uint256 modelId) external returns (uint256 amount);

    /**
     * @notice Pays the caller its whole balance (sponsor cuts, protocol fees).
     * @dev Never blocked by a pause. Reverts with {MarketNothingToWithdraw}.
     * @return amount The amount paid, in token wei.
     */
    function withdraw() external returns (uint256 amount);

    /**
     * @notice Sets the protocol fee taken from later sales.
     * @dev `FEE_ROLE` only. Reverts with {MarketFeeTooHigh} above {MAX_FEE_BPS}.
     * @param feeBps The fee in basis points.
     */
    function setFeeBps(uint16 feeBps) external;

    /**
     * @notice Sets the account credited with later protocol fees.
     * @dev `FEE_ROLE` only. Reverts with {MarketZeroAddress}("feeRecipient").
     * @param feeRecipient The new fee recipient.
     */
    function setFeeRecipient(address feeRecipient) external;

    /// @notice Stops listing and buying (`PAUSER_ROLE` only). Claims and withdrawals go on.
    function pause() external;

    /// @notice Ends a pause (`PAUSER_ROLE` only).
    function unpause() external;

    /**
     * @notice Returns a listing.
     * @param modelId The listing's id (reverts with {MarketUnknownModel} when there is none).
     * @return listing The listing.
     */
    function getModel(uint256 modelId) external view returns (ModelListing memory listing);

    /**
     * @notice Number of listings ever made (the id of the latest one).
     * @return count The number of listings.
     */
    function modelCount() external view returns (uint256 count);

    /**
     * @notice The listing of a task's model.
     * @param taskId The task's id.
     * @return modelId The listing's id, or 0 when the task's model is not listed.
     */
    function modelOf(uint256 taskId) external view returns (uint256 modelId);

    /**
     * @notice Whether `account` bought a licence for the model.
     * @param modelId The listing's id.
     * @param account The account.
     * @return licensed True once bought.
     */
    function hasLicence(uint256 modelId, address account) external view returns (bool licensed);

    /**
     * @notice The licence `account` bought for the model.
     * @param modelId The listing's id.
     * @param account The account.
     * @return atBlock The block of the purchase (0 when none).
     * @return pricePaid The amount received from the buyer, in token wei.
     */
    function licenceOf(uint256 modelId, address account) external view returns (uint64 atBlock, uint256 pricePaid);

    /**
     * @notice What {claimProceeds} would pay `account` now.
     * @param modelId The listing's id (reverts with {MarketUnknownModel} when there is none).
     * @param account The account.
     * @return amount The claimable amount, in token wei.
     */
    function claimableProceeds(uint256 modelId, address account) external view returns (uint256 amount);

    /**
     * @notice What `account` has claimed of the model's proceeds so far.
     * @param modelId The listing's id.
     * @param account The account.
     * @return amount The claimed amount, in token wei.
     */
    function claimedProceeds(uint256 modelId, address account) external view returns (uint256 amount);

    /**
     * @notice What {withdraw} would pay `account`.
     * @param account The account.
     * @return amount The balance, in token wei.
     */
    function withdrawable(address account) external view returns (uint256 amount);

    /**
     * @notice The protocol fee and the account it is credited to.
     * @return feeBps The fee in basis points (at most {MAX_FEE_BPS}).
     * @return feeRecipient The fee recipient.
     */
    function feeConfig() external view returns (uint16 feeBps, address feeRecipient);

    /**
     * @notice The token prices are paid in.
     * @return tokenAddress The reward token.
     */
    function token() external view returns (address tokenAddress);

    /**
     * @notice The FedTask contract whose sponsors, finality and shares the market reads.
     * @return fedTaskAddress The FedTask contract.
     */
    function fedTask() external view returns (address fedTaskAddress);

    /**
     * @notice The highest protocol fee, in basis points (1,000: 10 %).
     * @return maxFeeBps The cap.
     */
    // solhint-disable-next-line func-name-mixedcase
    function MAX_FEE_BPS() external view returns (uint16 maxFeeBps);
}
