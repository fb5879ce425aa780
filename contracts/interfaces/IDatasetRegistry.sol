// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IDatasetRegistry
 * @notice Types, errors, events and functions of the fedmarket dataset registry (protocol v2).
 * @dev A listing records a dataset's metadata hash and CID under its owner's address, with an access mode:
 * `FederatedOnly` (metadata only; the data is used through tasks) or `Downloadable` for a price. A
 * `(owner, metadataHash)` pair is listed once, so copying someone's hash lists it under the copier's name and
 * blocks nobody. The owner lists, edits, delists and relists directly, or signs an EIP-712 message (`ListDataset`,
 * `UpdateListing`, `SetListingActive`) that anyone (the marketplace API) relays; the three kinds share one
 * nonce per owner, so a signature is used once, as the kind it was made for. Buying a downloadable listing
 * pulls its price in the reward token (credited as received), credits a capped protocol fee to the fee recipient
 * and the rest to the owner (pull payments, {withdraw}), and records a licence. A pause stops listing, relisting
 * and buying, never delisting, edits or withdrawals.
 */
interface IDatasetRegistry {
    /**
     * @notice How a listed dataset can be used.
     * @param FederatedOnly Metadata only: the data stays with its owner and is joined through tasks; price 0.
     * @param Downloadable The data can be bought for the listing's price (a licence is recorded).
     */
    enum AccessMode {
        FederatedOnly,
        Downloadable
    }

    /**
     * @notice A dataset listing.
     * @param owner Address the listing is attributed to.
     * @param accessMode How the dataset can be used.
     * @param active False while the owner has it delisted.
     * @param listedAt Timestamp of the block that recorded the listing.
     * @param metadataHash Hash of the dataset's metadata document (never zero; unique per owner).
     * @param price Price of a licence in token wei (0 for `FederatedOnly`).
     * @param metadataCid Content identifier of the metadata document.
     */
    struct Listing {
        address owner;
        AccessMode accessMode;
        bool active;
        uint64 listedAt;
        bytes32 metadataHash;
        uint256 price;
        string metadataCid;
    }

    /**
     * @notice The relayed signature's deadline has passed.
     * @param deadline The deadline the signature was made for (a timestamp before the current block's).
     */
    error RegistryExpiredSignature(uint256 deadline);

    /**
     * @notice The relayed signature was not made by the listing's owner (or was made for another nonce, another
     * message kind or other fields).
     * @param signer The address recovered from the signature (zero when the signature is malformed).
     * @param owner The owner the listing was requested for.
     */
    error RegistryInvalidSigner(address signer, address owner);

    /**
     * @notice The owner already listed this metadata hash (an owner lists a hash once, delisted or not).
     * @param owner The listing's owner.
     * @param metadataHash The metadata hash given.
     * @param datasetId The id of the owner's listing that already holds it.
     */
    error RegistryDuplicateListing(address owner, bytes32 metadataHash, uint256 datasetId);

    /**
     * @notice No listing has this id.
     * @param datasetId The id given.
     */
    error RegistryUnknownDataset(uint256 datasetId);

    /**
     * @notice Only the listing's owner may do this.
     * @param datasetId The listing's id.
     * @param caller The account that tried.
     */
    error RegistryNotOwner(uint256 datasetId, address caller);

    /// @notice The metadata hash is zero.
    error RegistryZeroHash();

    /**
     * @notice The price does not fit the access mode: a `FederatedOnly` listing has price 0.
     * @param accessMode The access mode given.
     * @param price The price given.
     */
    error RegistryInvalidPrice(AccessMode accessMode, uint256 price);

    /**
     * @notice The listing is already delisted.
     * @param datasetId The listing's id.
     */
    error RegistryAlreadyDelisted(uint256 datasetId);

    /**
     * @notice The listing is active, so it cannot be relisted.
     * @param datasetId The listing's id.
     */
    error RegistryNotDelisted(uint256 datasetId);

    /**
     * @notice The listing is delisted, so it cannot be bought.
     * @param datasetId The listing's id.
     */
    error RegistryDatasetInactive(uint256 datasetId);

    /**
     * @notice The listing is `FederatedOnly`: it cannot be bought.
     * @param datasetId The listing's id.
     */
    error RegistryNotDownloadable(uint256 datasetId);

    /**
     * @notice The dataset's price is above what the buyer agreed to pay.
     * @param datasetId The listing's id.
     * @param price The current price.
     * @param maxPrice The buyer's limit.
     */
    error RegistryPriceAboveMax(uint256 datasetId, uint256 price, uint256 maxPrice);

    /**
     * @notice The buyer already holds a licence for this dataset.
     * @param datasetId The listing's id.
     * @param buyer The buyer.
     */
    error RegistryAlreadyLicensed(uint256 datasetId, address buyer);

    /**
     * @notice The protocol fee asked for is above the cap.
     * @param feeBps The fee asked for, in basis points.
     * @param maxFeeBps The cap ({MAX_FEE_BPS}).
     */
    error RegistryFeeTooHigh(uint256 feeBps, uint256 maxFeeBps);

    /**
     * @notice An address argument is zero.
     * @param field The argument's name ("token", "admin" or "feeRecipient").
     */
    error RegistryZeroAddress(string field);

    /**
     * @notice The account has no balance to withdraw.
     * @param account The caller.
     */
    error RegistryNothingToWithdraw(address account);

    /**
     * @notice A dataset was listed.
     * @param datasetId The new listing's id.
     * @param owner The owner the listing is attributed to.
     * @param metadataHash Hash of the metadata document.
     * @param metadataCid Content identifier of the metadata document.
     * @param accessMode How the dataset can be used.
     * @param price Price of a licence in token wei.
     */
    event DatasetListed(
        uint256 indexed datasetId,
        address indexed owner,
        bytes32 indexed metadataHash,
        string metadataCid,
        AccessMode accessMode,
        uint256 price
    );

    /**
     * @notice A listing's access mode and price were changed by its owner.
     * @param datasetId The listing's id.
     * @param accessMode The new access mode.
     * @param price The new price in token wei.
     */
    event ListingUpdated(uint256 indexed datasetId, AccessMode accessMode, uint256 price);

    /**
     * @notice A dataset was delisted by its owner.
     * @param datasetId The listing's id.
     * @param owner The listing's owner.
     */
    event DatasetDelisted(uint256 indexed datasetId, address indexed owner);

    /**
     * @notice A delisted dataset was listed again by its owner.
     * @param datasetId The listing's id.
     * @param owner The listing's owner.
     */
    event DatasetRelisted(uint256 indexed datasetId, address indexed owner);

    /**
     * @notice A licence for a downloadable dataset was bought.
     * @param datasetId The listing's id.
     * @param buyer The licence holder.
     * @param paid The amount received from the buyer, in token wei.
     * @param fee The protocol fee credited to the fee recipient.
     * @param ownerAmount The amount credited to the owner (`paid - fee`).
     */
    event DatasetBought(
        uint256 indexed datasetId, address indexed buyer, uint256 paid, uint256 fee, uint256 ownerAmount
    );

    /**
     * @notice An owner consumed a nonce without listing, cancelling any signature made for it.
     * @param owner The owner.
     * @param nonce The nonce consumed.
     */
    event NonceUsed(address indexed owner, uint256 nonce);

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
     * @notice An account withdrew its balance.
     * @param account The account paid.
     * @param amount The amount paid, in token wei.
     */
    event Withdrawn(address indexed account, uint256 amount);

    /**
     * @notice Lists a dataset owned by the caller.
     * @dev Not while paused (`EnforcedPause`). Reverts with {RegistryZeroHash}, {RegistryDuplicateListing} or
     * {RegistryInvalidPrice}, checked in that order.
     * @param metadataHash Hash of the metadata document (non-zero, not listed by the caller before).
     * @param metadataCid Content identifier of the metadata document.
     * @param accessMode How the dataset can be used.
     * @param price Price of a licence in token wei (0 for `FederatedOnly`).
     * @return datasetId The new listing's id (ids start at 1).
     */
    function listDataset(bytes32 metadataHash, string calldata metadataCid, AccessMode accessMode, uint256 price)
        external
        returns (uint256 datasetId);

    /**
     * @notice Lists a dataset on behalf of `owner`, who signed an EIP-712 `ListDataset` message.
     * @dev The message is `ListDataset(address owner,bytes32 metadataHash,string metadataCid,uint8 accessMode,
     * uint256 price,uint256 nonce,uint256 deadline)` with `nonce = nonces(owner)`; the nonce is consumed. Not
     * while paused. Reverts with {RegistryExpiredSignature}, {RegistryInvalidSigner} (also for a malformed
     * signature, reported as signer 0, for `owner == 0`, and for a replayed or cancelled nonce),
     * {RegistryZeroHash}, {RegistryDuplicateListing} or {RegistryInvalidPrice}, checked in that order.
     * @param owner The dataset's owner and the message's signer.
     * @param metadataHash Hash of the metadata document (non-zero, not listed by `owner` before).
     * @param metadataCid Content identifier of the metadata document.
     * @param accessMode How the dataset can be used.
     * @param price Price of a licence in token wei (0 for `FederatedOnly`).
     * @param deadline Last timestamp at which the signature is valid.
     * @param signature The owner's 65-byte ECDSA signature `r || s || v` of the typed data.
     * @return datasetId The new listing's id.
     */
    function listDatasetFor(
        address owner,
        bytes32 metadataHash,
        string calldata metadataCid,
        AccessMode accessMode,
        uint256 price,
        uint256 deadline,
        bytes calldata signature
    ) external returns (uint256 datasetId);

    /**
     * @notice Consumes the caller's current nonce, so that a signature made for it (`ListDataset`,
     * `UpdateListing` or `SetListingActive`) and not yet relayed can never be used.
     * @return nonce The nonce consumed.
     */
    function useNonce() external returns (uint256 nonce);

    /**
     * @notice Changes one of the caller's listings' access mode and price (delisted or not).
     * @dev Reverts with {RegistryUnknownDataset}, {RegistryNotOwner} or {RegistryInvalidPrice}, in that order.
     * A change applies to later purchases only: licences already bought stay.
     * @param datasetId The listing's id.
     * @param accessMode The new access mode.
     * @param price The new price in token wei (0 for `FederatedOnly`).
     */
    function updateListing(uint256 datasetId, AccessMode accessMode, uint256 price) external;

    /**
     * @notice Changes a listing's access mode and price on behalf of its owner, who signed an EIP-712
     * `UpdateListing` message. Emits {ListingUpdated}, as {updateListing} does.
     * @dev The message is `UpdateListing(uint256 datasetId,uint8 accessMode,uint256 price,uint256 nonce,
     * uint256 deadline)` with `nonce = nonces(owner)` of the listing's owner; the nonce is consumed. Works while
     * paused and on a delisted listing, like {updateListing}. Reverts with {RegistryExpiredSignature},
     * {RegistryUnknownDataset}, {RegistryInvalidSigner} (also for a malformed signature, reported as signer 0,
     * and for a replayed or cancelled nonce) or {RegistryInvalidPrice}, checked in that order.
     * @param datasetId The listing's id.
     * @param accessMode The new access mode.
     * @param price The new price in token wei (0 for `FederatedOnly`).
     * @param deadline Last timestamp at which the signature is valid.
     * @param signature The owner's 65-byte ECDSA signature `r || s || v` of the typed data.
     */
    function updateListingFor(
        uint256 datasetId,
        AccessMode accessMode,
        uint256 price,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /**
     * @notice Marks one of the caller's listings inactive. The `(owner, metadataHash)` pair stays taken.
     * @dev Reverts with {RegistryUnknownDataset}, {RegistryNotOwner} or {RegistryAlreadyDelisted}, in that order.
     * @param datasetId The listing's id.
     */
    function delistDataset(uint256 datasetId) external;

    /**
     * @notice Makes one of the caller's delisted listings active again.
     * @dev Not while paused. Reverts with {RegistryUnknownDataset}, {RegistryNotOwner} or {RegistryNotDelisted},
     * in that order.
     * @param datasetId The listing's id.
     */
    function relistDataset(uint256 datasetId) external;

    /**
     * @notice Delists (`active` false) or relists (`active` true) a listing on behalf of its owner, who signed
     * an EIP-712 `SetListingActive` message. Emits {DatasetDelisted} or {DatasetRelisted}, as {delistDataset} and
     * {relistDataset} do.
     * @dev The message is `SetListingActive(uint256 datasetId,bool active,uint256 nonce,uint256 deadline)` with
     * `nonce = nonces(owner)` of the listing's owner; the nonce is consumed. Relisting is not possible while
     * paused (`EnforcedPause`, checked first), delisting is. Reverts with {RegistryExpiredSignature},
     * {RegistryUnknownDataset}, {RegistryInvalidSigner} (as for {updateListingFor}), then
     * {RegistryAlreadyDelisted} or {RegistryNotDelisted}, in that order.
     * @param datasetId The listing's id.
     * @param active Whether the listing becomes active.
     * @param deadline Last timestamp at which the signature is valid.
     * @param signature The owner's 65-byte ECDSA signature `r || s || v` of the typed data.
     */
    function setListingActiveFor(uint256 datasetId, bool active, uint256 deadline, bytes calldata signature)
        external;

    /**
     * @notice Buys a licence for a downloadable dataset at its current price.
     * @dev Not while paused. Pulls the price from the caller (approve it first; the allowance bounds what the
     * owner's later price changes can take); the amount received is split into
     * `fee = received * feeBps / 10,000` for the fee recipient and the rest for the owner, both credited to
     * pull balances. Reverts with {RegistryUnknownDataset}, {RegistryDatasetInactive},
     * {RegistryNotDownloadable}, {RegistryPriceAboveMax} or {RegistryAlreadyLicensed}, in that order.
     * @param datasetId The listing's id.
     * @param maxPrice The most the buyer agrees to pay: a price raised after the buyer looked reverts instead
     * of charging more.
     */
    function buyDataset(uint256 datasetId, uint256 maxPrice) external;

    /**
     * @notice Pays the caller its whole balance (sales as an owner, fees as a fee recipient).
     * @dev Never blocked by a pause. Reverts with {RegistryNothingToWithdraw}.
     * @return amount The amount paid, in token wei.
     */
    function withdraw() external returns (uint256 amount);

    /**
     * @notice Sets the protocol fee taken from later sales.
     * @dev `FEE_ROLE` only. Reverts with {RegistryFeeTooHigh} above {MAX_FEE_BPS}.
     * @param feeBps The fee in basis points.
     */
    function setFeeBps(uint16 feeBps) external;

    /**
     * @notice Sets the account credited with later protocol fees.
     * @dev `FEE_ROLE` only. Reverts with {RegistryZeroAddress}("feeRecipient").
     * @param feeRecipient The new fee recipient.
     */
    function setFeeRecipient(address feeRecipient) external;

    /// @notice Stops listing, relisting and buying (`PAUSER_ROLE` only). Withdrawals go on.
    function pause() external;

    /// @notice Ends a pause (`PAUSER_ROLE` only).
    function unpause() external;

    /**
     * @notice Returns a listing.
     * @param datasetId The listing's id (reverts with {RegistryUnknownDataset} when there is none).
     * @return listing The listing.
     */
    function getListing(uint256 datasetId) external view returns (Listing memory listing);

    /**
     * @notice Number of listings ever made (the id of the latest one).
     * @return count The number of listings.
     */
    function datasetCount() external view returns (uint256 count);

    /**
     * @notice The id of an owner's listing of a metadata hash.
     * @param owner The owner.
     * @param metadataHash The metadata hash.
     * @return datasetId The listing's id, or 0 when `owner` never listed the hash.
     */
    function datasetIdOf(address owner, bytes32 metadataHash) external view returns (uint256 datasetId);

    /**
     * @notice Whether `account` bought a licence for the dataset.
     * @param datasetId The listing's id.
     * @param account The account.
     * @return licensed True once bought.
     */
    function hasLicence(uint256 datasetId, address account) external view returns (bool licensed);

    /**
     * @notice The licence `account` bought for the dataset.
     * @param datasetId The listing's id.
     * @param account The account.
     * @return atBlock The block of the purchase (0 when none).
     * @return pricePaid The amount received from the buyer, in token wei.
     */
    function licenceOf(uint256 datasetId, address account) external view returns (uint64 atBlock, uint256 pricePaid);

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
     * @notice The nonce the owner's next signed message (`ListDataset`, `UpdateListing` or `SetListingActive`)
     * must carry.
     * @param owner The owner.
     * @return nonce The current nonce.
     */
    function nonces(address owner) external view returns (uint256 nonce);

    /**
     * @notice The EIP-712 domain separator (name "FedMarket DatasetRegistry", version "2").
     * @return separator The domain separator for the current chain.
     */
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32 separator);

    /**
     * @notice The highest protocol fee, in basis points (1,000: 10 %).
     * @return maxFeeBps The cap.
     */
    // solhint-disable-next-line func-name-mixedcase
    function MAX_FEE_BPS() external view returns (uint16 maxFeeBps);
}
