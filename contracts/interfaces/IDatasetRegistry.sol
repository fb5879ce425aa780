// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IDatasetRegistry
 * @notice Types, errors, events and functions of the fedmarket dataset registry.
 * @dev A listing records a dataset's metadata hash and CID under its owner's address. The owner lists
 * directly, or signs an EIP-712 `ListDataset` message that anyone (the marketplace API) relays.
 */
interface IDatasetRegistry {
    /**
     * @notice A dataset listing.
     * @param owner Address the listing is attributed to.
     * @param metadataHash Hash of the dataset's metadata document (never zero; unique in the registry).
     * @param metadataCid Content identifier of the metadata document.
     * @param listedAt Timestamp of the block that recorded the listing.
     * @param active False once the owner has delisted the dataset.
     */
    struct Listing {
        address owner;
        bytes32 metadataHash;
        string metadataCid;
        uint64 listedAt;
        bool active;
    }

    /**
     * @notice The relayed signature's deadline has passed.
     * @param deadline The deadline the signature was made for (a timestamp before the current block's).
     */
    error RegistryExpiredSignature(uint256 deadline);

    /**
     * @notice The relayed signature was not made by the listing's owner.
     * @param signer The address recovered from the signature (zero when the signature is malformed).
     * @param owner The owner the listing was requested for.
     */
    error RegistryInvalidSigner(address signer, address owner);

    /**
     * @notice The metadata hash is already listed (a hash can be listed once, delisted or not).
     * @param metadataHash The metadata hash given.
     * @param datasetId The id of the listing that already holds it.
     */
    error RegistryDuplicateListing(bytes32 metadataHash, uint256 datasetId);

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
     * @notice The listing is already delisted.
     * @param datasetId The listing's id.
     */
    error RegistryAlreadyDelisted(uint256 datasetId);

    /**
     * @notice A dataset was listed.
     * @param datasetId The new listing's id.
     * @param owner The owner the listing is attributed to.
     * @param metadataHash Hash of the metadata document.
     * @param metadataCid Content identifier of the metadata document.
     */
    event DatasetListed(uint256 indexed datasetId, address indexed owner, bytes32 metadataHash, string metadataCid);

    /**
     * @notice A dataset was delisted by its owner.
     * @param datasetId The listing's id.
     * @param owner The listing's owner.
     */
    event DatasetDelisted(uint256 indexed datasetId, address indexed owner);

    /**
     * @notice Lists a dataset owned by the caller.
     * @dev Reverts with {RegistryZeroHash} or {RegistryDuplicateListing}.
     * @param metadataHash Hash of the metadata document (non-zero, not listed before).
     * @param metadataCid Content identifier of the metadata document.
     * @return datasetId The new listing's id (ids start at 1).
     */
    function listDataset(bytes32 metadataHash, string calldata metadataCid) external returns (uint256 datasetId);

    /**
     * @notice Lists a dataset on behalf of `owner`, who signed an EIP-712 `ListDataset` message.
     * @dev The message is `ListDataset(address owner,bytes32 metadataHash,string metadataCid,uint256 nonce,
     * uint256 deadline)` with `nonce = nonces(owner)`; the nonce is consumed. Reverts with
     * {RegistryExpiredSignature}, {RegistryInvalidSigner} (also for a malformed signature, reported as signer
     * 0, and for `owner == 0`), {RegistryZeroHash} or {RegistryDuplicateListing}, checked in that order.
     * @param owner The dataset's owner and the message's signer.
     * @param metadataHash Hash of the metadata document (non-zero, not listed before).
     * @param metadataCid Content identifier of the metadata document.
     * @param deadline Last timestamp at which the signature is valid.
     * @param signature The owner's 65-byte ECDSA signature `r || s || v` of the typed data.
     * @return datasetId The new listing's id.
     */
    function listDatasetFor(
        address owner,
        bytes32 metadataHash,
        string calldata metadataCid,
        uint256 deadline,
        bytes calldata signature
    ) external returns (uint256 datasetId);

    /**
     * @notice Marks one of the caller's listings inactive. The metadata hash stays taken.
     * @dev Reverts with {RegistryUnknownDataset}, {RegistryNotOwner} or {RegistryAlreadyDelisted}, in that order.
     * @param datasetId The listing's id.
     */
    function delistDataset(uint256 datasetId) external;

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
     * @notice The id of the listing holding a metadata hash.
     * @param metadataHash The metadata hash.
     * @return datasetId The listing's id, or 0 when the hash was never listed.
     */
    function datasetIdOf(bytes32 metadataHash) external view returns (uint256 datasetId);

    /**
     * @notice The nonce the owner's next `ListDataset` signature must carry.
     * @param owner The owner.
     * @return nonce The current nonce.
     */
    function nonces(address owner) external view returns (uint256 nonce);

    /**
     * @notice The EIP-712 domain separator (name "FedMarket DatasetRegistry", version "1").
     * @return separator The domain separator for the current chain.
     */
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32 separator);
}
