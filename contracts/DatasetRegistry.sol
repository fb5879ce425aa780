// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IDatasetRegistry} from "./interfaces/IDatasetRegistry.sol";

/**
 * @title DatasetRegistry
 * @notice Dataset listings attributed to their owners, with access modes, prices, sales and licences.
 * @dev Owners list directly with {listDataset}, or sign an EIP-712 `ListDataset` message that a relayer (the
 * marketplace API) submits with {listDatasetFor}; likewise for edits ({updateListingFor}, `UpdateListing`) and
 * delisting or relisting ({setListingActiveFor}, `SetListingActive`). All signed kinds share the owner's
 * nonces and the domain. Uniqueness is per `(owner, metadataHash)`. Ids start at 1.
 * Sales are pull payments: `token.balanceOf(this) == Σ withdrawable` at all times. Roles:
 * `DEFAULT_ADMIN_ROLE` (grants the others), `PAUSER_ROLE`, `FEE_ROLE`; the constructor's admin holds all three.
 */
contract DatasetRegistry is IDatasetRegistry, AccessControl, Pausable, ReentrancyGuardTransient, EIP712, Nonces {
    using SafeERC20 for IERC20;

    /// @dev A listing as stored: owner, timestamp, flags and mode share a slot.
    struct StoredListing {
        address owner;
        uint64 listedAt;
        bool active;
        AccessMode accessMode;
        bytes32 metadataHash;
        uint256 price;
        string metadataCid;
    }

    /// @dev A licence as stored, in one slot.
    struct StoredLicence {
        bool held;
        uint64 atBlock;
        uint184 pricePaid;
    }

    /// @notice EIP-712 type hash of the relayed listing message.
    bytes32 public constant LIST_DATASET_TYPEHASH = keccak256(
        "ListDataset(address owner,bytes32 metadataHash,string metadataCid,uint8 accessMode,uint256 price,"
        "uint256 nonce,uint256 deadline)"
    );
    /// @notice EIP-712 type hash of the relayed listing edit.
    bytes32 public constant UPDATE_LISTING_TYPEHASH =
        keccak256("UpdateListing(uint256 datasetId,uint8 accessMode,uint256 price,uint256 nonce,uint256 deadline)");
    /// @notice EIP-712 type hash of the relayed delisting (`active` false) or relisting (`active` true).
    bytes32 public constant SET_LISTING_ACTIVE_TYPEHASH =
        keccak256("SetListingActive(uint256 datasetId,bool active,uint256 nonce,uint256 deadline)");
    /// @notice Role of the accounts that pause and unpause.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    /// @notice Role of the accounts that set the protocol fee and its recipient.
    bytes32 public constant FEE_ROLE = keccak256("FEE_ROLE");
    /// @inheritdoc IDatasetRegistry
    uint16 public constant MAX_FEE_BPS = 1_000;
    uint256 private constant BPS = 10_000;

    IERC20 private immutable _token;

    address private _feeRecipient;
    uint16 private _feeBps;
    uint256 private _datasetCount;
    mapping(uint256 datasetId => StoredListing) private _listings;
    mapping(address owner => mapping(bytes32 metadataHash => uint256 datasetId)) private _datasetIdOf;
    mapping(uint256 datasetId => mapping(address account => StoredLicence)) private _licences;
    mapping(address account => uint256 amount) private _withdrawable;

    /**
     * @notice Deploys the registry with the EIP-712 domain "FedMarket DatasetRegistry", version "2".
     * @param token_ The token prices are paid in (reverts with {RegistryZeroAddress}("token") when zero).
     * @param admin Holds `DEFAULT_ADMIN_ROLE`, `PAUSER_ROLE` and `FEE_ROLE` ({RegistryZeroAddress}("admin")).
     * @param feeRecipient_ Credited with protocol fees ({RegistryZeroAddress}("feeRecipient") when zero).
     * @param feeBps_ The protocol fee in basis points ({RegistryFeeTooHigh} above {MAX_FEE_BPS}).
     */
    constructor(IERC20 token_, address admin, address feeRecipient_, uint16 feeBps_)
        EIP712("FedMarket DatasetRegistry", "2")
    {
        if (address(token_) == address(0)) {
            revert RegistryZeroAddress("token");
        }
        if (admin == address(0)) {
            revert RegistryZeroAddress("admin");
        }
        _token = token_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _grantRole(FEE_ROLE, admin);
        _setFeeRecipient(feeRecipient_);
        _setFeeBps(feeBps_);
    }

    /// @inheritdoc IDatasetRegistry
    function listDataset(bytes32 metadataHash, string calldata metadataCid, AccessMode accessMode, uint256 price)
        external
        whenNotPaused
        returns (uint256 datasetId)
    {
        return _list(msg.sender, metadataHash, metadataCid, accessMode, price);
    }

    /// @inheritdoc IDatasetRegistry
    function listDatasetFor(
        address owner,
        bytes32 metadataHash,
        string calldata metadataCid,
        AccessMode accessMode,
        uint256 price,
        uint256 deadline,
        bytes calldata signature
    ) external whenNotPaused returns (uint256 datasetId) {
        if (block.timestamp > deadline) {
            revert RegistryExpiredSignature(deadline);
        }
        bytes32 structHash = _listingStructHash(owner, metadataHash, keccak256(bytes(metadataCid)), accessMode, price, deadline);
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(_hashTypedDataV4(structHash), signature);
        // A malformed signature recovers nothing; reporting it as signer 0 also rejects owner == 0.
        if (err != ECDSA.RecoverError.NoError || signer != owner) {
            revert RegistryInvalidSigner(signer, owner);
        }
        return _list(owner, metadataHash, metadataCid, accessMode, price);
    }

    /// @inheritdoc IDatasetRegistry
    function useNonce() external returns (uint256 nonce) {
        nonce = _useNonce(msg.sender);
        emit NonceUsed(msg.sender, nonce);
    }

    /// @inheritdoc IDatasetRegistry
    function updateListing(uint256 datasetId, AccessMode accessMode, uint256 price) external {
        _update(datasetId, _owned(datasetId), accessMode, price);
    }

    /// @inheritdoc IDatasetRegistry
    function updateListingFor(
        uint256 datasetId,
        AccessMode accessMode,
        uint256 price,
        uint256 deadline,
        bytes calldata signature
    ) external {
        StoredListing storage listing = _signedByOwner(
            UPDATE_LISTING_TYPEHASH, datasetId, abi.encode(uint8(accessMode), price), deadline, signature
        );
        _update(datasetId, listing, accessMode, price);
    }

    /// @inheritdoc IDatasetRegistry
    function delistDataset(uint256 datasetId) external {
        _setActive(datasetId, _owned(datasetId), false);
    }

    /// @inheritdoc IDatasetRegistry
    function relistDataset(uint256 datasetId) external whenNotPaused {
        _setActive(datasetId, _owned(datasetId), true);
    }

    /// @inheritdoc IDatasetRegistry
    function setListingActiveFor(uint256 datasetId, bool active, uint256 deadline, bytes calldata signature)
        external
    {
        // As for the owner's own calls: relisting waits for the end of a pause, delisting never does.
        if (active) {
            _requireNotPaused();
        }
        StoredListing storage listing =
            _signedByOwner(SET_LISTING_ACTIVE_TYPEHASH, datasetId, abi.encode(active), deadline, signature);
        _setActive(datasetId, listing, active);
    }

    /// @inheritdoc IDatasetRegistry
    function buyDataset(uint256 datasetId, uint256 maxPrice) external whenNotPaused nonReentrant {
        StoredListing storage listing = _existing(datasetId);
        if (!listing.active) {
            revert RegistryDatasetInactive(datasetId);
        }
        if (listing.accessMode != AccessMode.Downloadable) {
            revert RegistryNotDownloadable(datasetId);
        }
        if (listing.price > maxPrice) {
            revert RegistryPriceAboveMax(datasetId, listing.price, maxPrice);
        }
        StoredLicence storage licence = _licences[datasetId][msg.sender];
        if (licence.held) {
            revert RegistryAlreadyLicensed(datasetId, msg.sender);
        }
        uint256 received = _pull(listing.price);
        uint256 fee = (received * _feeBps) / BPS;
        uint256 ownerAmount = received - fee;
        _licences[datasetId][msg.sender] =
            StoredLicence({held: true, atBlock: uint64(block.number), pricePaid: SafeCast.toUint184(received)});
        _withdrawable[_feeRecipient] += fee;
        _withdrawable[listing.owner] += ownerAmount;
        emit DatasetBought(datasetId, msg.sender, received, fee, ownerAmount);
    }

    /// @inheritdoc IDatasetRegistry
    function withdraw() external nonReentrant returns (uint256 amount) {
        amount = _withdrawable[msg.sender];
        if (amount == 0) {
            revert RegistryNothingToWithdraw(msg.sender);
        }
        _withdrawable[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IDatasetRegistry
    function setFeeBps(uint16 feeBps_) external onlyRole(FEE_ROLE) {
        _setFeeBps(feeBps_);
    }

    /// @inheritdoc IDatasetRegistry
    function setFeeRecipient(address feeRecipient_) external onlyRole(FEE_ROLE) {
        _setFeeRecipient(feeRecipient_);
    }

    /// @inheritdoc IDatasetRegistry
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IDatasetRegistry
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @inheritdoc IDatasetRegistry
    function getListing(uint256 datasetId) external view returns (Listing memory listing) {
        StoredListing storage stored = _existing(datasetId);
        return Listing({
            owner: stored.owner,
            accessMode: stored.accessMode,
            active: stored.active,
            listedAt: stored.listedAt,
            metadataHash: stored.metadataHash,
            price: stored.price,
            metadataCid: stored.metadataCid
        });
    }

    /// @inheritdoc IDatasetRegistry
    function datasetCount() external view returns (uint256 count) {
        return _datasetCount;
    }

    /// @inheritdoc IDatasetRegistry
    function datasetIdOf(address owner, bytes32 metadataHash) external view returns (uint256 datasetId) {
        return _datasetIdOf[owner][metadataHash];
    }

    /// @inheritdoc IDatasetRegistry
    function hasLicence(uint256 datasetId, address account) external view returns (bool licensed) {
        return _licences[datasetId][account].held;
    }

    /// @inheritdoc IDatasetRegistry
    function licenceOf(uint256 datasetId, address account) external view returns (uint64 atBlock, uint256 pricePaid) {
        StoredLicence storage licence = _licences[datasetId][account];
        return (licence.atBlock, licence.pricePaid);
    }

    /// @inheritdoc IDatasetRegistry
    function withdrawable(address account) external view returns (uint256 amount) {
        return _withdrawable[account];
    }

    /// @inheritdoc IDatasetRegistry
    function feeConfig() external view returns (uint16 feeBps, address feeRecipient) {
        return (_feeBps, _feeRecipient);
    }

    /// @inheritdoc IDatasetRegistry
    function token() external view returns (address tokenAddress) {
        return address(_token);
    }

    /// @inheritdoc IDatasetRegistry
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32 separator) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IDatasetRegistry
    function nonces(address owner) public view override(IDatasetRegistry, Nonces) returns (uint256 nonce) {
        return super.nonces(owner);
    }

    /**
     * @dev Records a new listing for `owner` and returns its id.
     * @param owner The listing's owner.
     * @param metadataHash Hash of the metadata document; non-zero and not listed by `owner` before.
     * @param metadataCid Content identifier of the metadata document.
     * @param accessMode How the dataset can be used.
     * @param price Price of a licence (0 for `FederatedOnly`).
     * @return datasetId The new listing's id.
     */
    function _list(
        address owner,
        bytes32 metadataHash,
        string calldata metadataCid,
        AccessMode accessMode,
        uint256 price
    ) private returns (uint256 datasetId) {
        if (metadataHash == bytes32(0)) {
            revert RegistryZeroHash();
        }
        uint256 existing = _datasetIdOf[owner][metadataHash];
        if (existing != 0) {
            revert RegistryDuplicateListing(owner, metadataHash, existing);
        }
        _checkPrice(accessMode, price);
        datasetId = ++_datasetCount;
        _datasetIdOf[owner][metadataHash] = datasetId;
        _listings[datasetId] = StoredListing({
            owner: owner,
            listedAt: uint64(block.timestamp),
            active: true,
            accessMode: accessMode,
            metadataHash: metadataHash,
            price: price,
            metadataCid: metadataCid
        });
        emit DatasetListed(datasetId, owner, metadataHash, metadataCid, accessMode, price);
    }

    /**
     * @dev The EIP-712 struct hash of a `ListDataset` message carrying `owner`'s current nonce, which it consumes.
     * @param owner The listing's owner.
     * @param metadataHash Hash of the metadata document.
     * @param cidHash `keccak256` of the metadata CID's bytes (EIP-712 encodes a string by its hash).
     * @param accessMode How the dataset can be used.
     * @param price Price of a licence.
     * @param deadline Last timestamp at which the signature is valid.
     * @return structHash The struct hash.
     */
    function _listingStructHash(
        address owner,
        bytes32 metadataHash,
        bytes32 cidHash,
        AccessMode accessMode,
        uint256 price,
        uint256 deadline
    ) private returns (bytes32 structHash) {
        // Two halves of static words: their concatenation is exactly abi.encode of all eight.
        return keccak256(
            bytes.concat(
                abi.encode(LIST_DATASET_TYPEHASH, owner, metadataHash, cidHash),
                abi.encode(uint8(accessMode), price, _useNonce(owner), deadline)
            )
        );
    }

    /**
     * @dev Checks a relayed EIP-712 message about listing `datasetId` and returns the listing: the deadline, then
     * the listing's existence, then that its owner signed the message with their current nonce, which it consumes.
     * Reverts with {RegistryExpiredSignature}, {RegistryUnknownDataset} or {RegistryInvalidSigner} (also for a
     * malformed signature, reported as signer 0).
     * @param typeHash The message's type hash; its fields are `datasetId`, then `fields`, then nonce and deadline.
     * @param datasetId The listing's id.
     * @param fields The ABI encoding (static words) of the message's own fields.
     * @param deadline Last timestamp at which the signature is valid.
     * @param signature The owner's 65-byte ECDSA signature `r || s || v` of the typed data.
     * @return listing The stored listing.
     */
    function _signedByOwner(
        bytes32 typeHash,
        uint256 datasetId,
        bytes memory fields,
        uint256 deadline,
        bytes calldata signature
    ) private returns (StoredListing storage listing) {
        if (block.timestamp > deadline) {
            revert RegistryExpiredSignature(deadline);
        }
        listing = _existing(datasetId);
        address owner = listing.owner;
        // Static words only: the concatenation is exactly abi.encode of the message's fields.
        bytes32 structHash = keccak256(
            bytes.concat(abi.encode(typeHash, datasetId), fields, abi.encode(_useNonce(owner), deadline))
        );
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(_hashTypedDataV4(structHash), signature);
        if (err != ECDSA.RecoverError.NoError || signer != owner) {
            revert RegistryInvalidSigner(signer, owner);
        }
    }

    /**
     * @dev Sets a listing's access mode and price. Reverts with {RegistryInvalidPrice}.
     * @param datasetId The listing's id.
     * @param listing The stored listing.
     * @param accessMode The new access mode.
     * @param price The new price (0 for `FederatedOnly`).
     */
    function _update(uint256 datasetId, StoredListing storage listing, AccessMode accessMode, uint256 price)
        private
    {
        _checkPrice(accessMode, price);
        listing.accessMode = accessMode;
        listing.price = price;
        emit ListingUpdated(datasetId, accessMode, price);
    }

    /**
     * @dev Delists (`active` false) or relists (`active` true) a listing. Reverts with {RegistryAlreadyDelisted}
     * or {RegistryNotDelisted} when it is already so.
     * @param datasetId The listing's id.
     * @param listing The stored listing.
     * @param active Whether the listing becomes active.
     */
    function _setActive(uint256 datasetId, StoredListing storage listing, bool active) private {
        if (listing.active == active) {
            if (active) {
                revert RegistryNotDelisted(datasetId);
            }
            revert RegistryAlreadyDelisted(datasetId);
        }
        listing.active = active;
        if (active) {
            emit DatasetRelisted(datasetId, listing.owner);
        } else {
            emit DatasetDelisted(datasetId, listing.owner);
        }
    }

    /**
     * @dev Pulls `amount` from the caller and returns what the registry actually received.
     * @param amount The amount asked for.
     * @return received The registry's balance increase.
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
            revert RegistryFeeTooHigh(feeBps_, MAX_FEE_BPS);
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
            revert RegistryZeroAddress("feeRecipient");
        }
        _feeRecipient = feeRecipient_;
        emit FeeRecipientChanged(feeRecipient_);
    }

    /**
     * @dev Reverts with {RegistryInvalidPrice} unless the price fits the access mode.
     * @param accessMode The access mode.
     * @param price The price.
     */
    function _checkPrice(AccessMode accessMode, uint256 price) private pure {
        if (accessMode == AccessMode.FederatedOnly && price != 0) {
            revert RegistryInvalidPrice(accessMode, price);
        }
    }

    /**
     * @dev Returns the stored listing `datasetId`, reverting unless the caller owns it.
     * @param datasetId The listing's id.
     * @return listing The stored listing.
     */
    function _owned(uint256 datasetId) private view returns (StoredListing storage listing) {
        listing = _existing(datasetId);
        if (listing.owner != msg.sender) {
            revert RegistryNotOwner(datasetId, msg.sender);
        }
    }

    /**
     * @dev Returns the stored listing `datasetId`, reverting with {RegistryUnknownDataset} when there is none.
     * @param datasetId The listing's id.
     * @return listing The stored listing.
     */
    function _existing(uint256 datasetId) private view returns (StoredListing storage listing) {
        listing = _listings[datasetId];
        if (listing.owner == address(0)) {
            revert RegistryUnknownDataset(datasetId);
        }
    }
}
