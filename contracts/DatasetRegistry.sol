// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IDatasetRegistry} from "./interfaces/IDatasetRegistry.sol";

/**
 * @title DatasetRegistry
 * @notice Records dataset listings attributable to their owners' addresses.
 * @dev Owners list directly with {listDataset}, or sign an EIP-712 `ListDataset` message that a relayer (the
 * marketplace API) submits with {listDatasetFor}. Each metadata hash can be listed once. Ids start at 1.
 */
contract DatasetRegistry is IDatasetRegistry, EIP712, Nonces {
    /// @dev A listing as stored: packed into three slots plus the CID.
    struct StoredListing {
        address owner;
        uint64 listedAt;
        bool active;
        bytes32 metadataHash;
        string metadataCid;
    }

    /// @notice EIP-712 type hash of the relayed listing message.
    bytes32 public constant LIST_DATASET_TYPEHASH = keccak256(
        "ListDataset(address owner,bytes32 metadataHash,string metadataCid,uint256 nonce,uint256 deadline)"
    );

    uint256 private _datasetCount;
    mapping(uint256 datasetId => StoredListing) private _listings;
    mapping(bytes32 metadataHash => uint256 datasetId) private _datasetIdOf;

    /// @notice Deploys the registry with the EIP-712 domain "FedMarket DatasetRegistry", version "1".
    constructor() EIP712("FedMarket DatasetRegistry", "1") {}

    /// @inheritdoc IDatasetRegistry
    function listDataset(bytes32 metadataHash, string calldata metadataCid) external returns (uint256 datasetId) {
        return _list(msg.sender, metadataHash, metadataCid);
    }

    /// @inheritdoc IDatasetRegistry
    function listDatasetFor(
        address owner,
        bytes32 metadataHash,
        string calldata metadataCid,
        uint256 deadline,
        bytes calldata signature
    ) external returns (uint256 datasetId) {
        if (block.timestamp > deadline) {
            revert RegistryExpiredSignature(deadline);
        }
        bytes32 structHash = keccak256(
            abi.encode(
                LIST_DATASET_TYPEHASH,
                owner,
                metadataHash,
                keccak256(bytes(metadataCid)),
                _useNonce(owner),
                deadline
            )
        );
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(_hashTypedDataV4(structHash), signature);
        // A malformed signature recovers nothing; reporting it as signer 0 also rejects owner == 0.
        if (err != ECDSA.RecoverError.NoError || signer != owner) {
            revert RegistryInvalidSigner(signer, owner);
        }
        return _list(owner, metadataHash, metadataCid);
    }

    /// @inheritdoc IDatasetRegistry
    function delistDataset(uint256 datasetId) external {
        StoredListing storage listing = _existing(datasetId);
        if (listing.owner != msg.sender) {
            revert RegistryNotOwner(datasetId, msg.sender);
        }
        if (!listing.active) {
            revert RegistryAlreadyDelisted(datasetId);
        }
        listing.active = false;
        emit DatasetDelisted(datasetId, msg.sender);
    }

    /// @inheritdoc IDatasetRegistry
    function getListing(uint256 datasetId) external view returns (Listing memory listing) {
        StoredListing storage stored = _existing(datasetId);
        return Listing({
            owner: stored.owner,
            metadataHash: stored.metadataHash,
            metadataCid: stored.metadataCid,
            listedAt: stored.listedAt,
            active: stored.active
        });
    }

    /// @inheritdoc IDatasetRegistry
    function datasetCount() external view returns (uint256 count) {
        return _datasetCount;
    }

    /// @inheritdoc IDatasetRegistry
    function datasetIdOf(bytes32 metadataHash) external view returns (uint256 datasetId) {
        return _datasetIdOf[metadataHash];
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
     * @param metadataHash Hash of the metadata document; must be non-zero and not listed before.
     * @param metadataCid Content identifier of the metadata document.
     * @return datasetId The new listing's id.
     */
    function _list(
        address owner,
        bytes32 metadataHash,
        string calldata metadataCid
    ) private returns (uint256 datasetId) {
        if (metadataHash == bytes32(0)) {
            revert RegistryZeroHash();
        }
        uint256 existing = _datasetIdOf[metadataHash];
        if (existing != 0) {
            revert RegistryDuplicateListing(metadataHash, existing);
        }
        datasetId = ++_datasetCount;
        _datasetIdOf[metadataHash] = datasetId;
        _listings[datasetId] = StoredListing({
            owner: owner,
            listedAt: uint64(block.timestamp),
            active: true,
            metadataHash: metadataHash,
            metadataCid: metadataCid
        });
        emit DatasetListed(datasetId, owner, metadataHash, metadataCid);
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
