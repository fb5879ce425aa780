// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DatasetRegistry} from "../../DatasetRegistry.sol";
import {RewardToken} from "../../RewardToken.sol";
import {IDatasetRegistry} from "../../interfaces/IDatasetRegistry.sol";
import {Test} from "./Test.sol";

/**
 * @title RegistryFixture
 * @notice Token and dataset registry, named accounts and EIP-712 helpers shared by the registry tests. The test
 * contract is the token's admin (it mints); `admin` holds the registry's roles.
 */
abstract contract RegistryFixture is Test {
    uint256 internal constant CAP = 1e30;
    uint16 internal constant FEE_BPS = 250;
    uint256 internal constant BPS = 10_000;
    uint256 internal constant PRICE = 100e18;
    bytes32 internal constant HASH = keccak256("metadata.json");
    string internal constant CID = "bafkreimetadata";

    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant LIST_TYPEHASH = keccak256(
        "ListDataset(address owner,bytes32 metadataHash,string metadataCid,uint8 accessMode,uint256 price,"
        "uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant UPDATE_TYPEHASH =
        keccak256("UpdateListing(uint256 datasetId,uint8 accessMode,uint256 price,uint256 nonce,uint256 deadline)");
    bytes32 internal constant SET_ACTIVE_TYPEHASH =
        keccak256("SetListingActive(uint256 datasetId,bool active,uint256 nonce,uint256 deadline)");

    RewardToken internal token;
    DatasetRegistry internal registry;

    address internal admin;
    address internal feeRecipient;
    address internal owner;
    uint256 internal ownerKey;
    address internal other;
    uint256 internal otherKey;
    address internal relayer;
    address internal buyer;
    address internal buyer2;
    address internal stranger;

    function setUp() public virtual {
        admin = makeAddr("admin");
        feeRecipient = makeAddr("feeRecipient");
        (owner, ownerKey) = makeAddrAndKey("owner");
        (other, otherKey) = makeAddrAndKey("other");
        relayer = makeAddr("relayer");
        buyer = makeAddr("buyer");
        buyer2 = makeAddr("buyer2");
        stranger = makeAddr("stranger");
        vm.warp(1_700_000_000);

        token = new RewardToken(address(this), CAP);
        registry = new DatasetRegistry(token, admin, feeRecipient, FEE_BPS);
    }

    // ------------------------------------------------------------------ funding

    /// @dev Mints `amount` to `account` and lets the registry pull up to it.
    function _fund(address account, uint256 amount) internal {
        token.mint(account, amount);
        vm.prank(account);
        token.approve(address(registry), amount);
    }

    // ------------------------------------------------------------------ dataset registry

    /// @dev Lists a downloadable dataset as `owner` at `price`.
    function _listDownloadable(uint256 price) internal returns (uint256 datasetId) {
        vm.prank(owner);
        datasetId = registry.listDataset(HASH, CID, IDatasetRegistry.AccessMode.Downloadable, price);
    }

    /// @dev The EIP-712 digest of a ListDataset message, computed independently of the registry.
    function _digest(
        address listingOwner,
        bytes32 metadataHash,
        string memory metadataCid,
        IDatasetRegistry.AccessMode accessMode,
        uint256 price,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                LIST_TYPEHASH,
                listingOwner,
                metadataHash,
                keccak256(bytes(metadataCid)),
                uint8(accessMode),
                price,
                nonce,
                deadline
            )
        );
        return _typedDigest(structHash);
    }

    /// @dev The EIP-712 digest of an UpdateListing message, computed independently of the registry.
    function _updateDigest(
        uint256 datasetId,
        IDatasetRegistry.AccessMode accessMode,
        uint256 price,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (bytes32) {
        return
            _typedDigest(keccak256(abi.encode(UPDATE_TYPEHASH, datasetId, uint8(accessMode), price, nonce, deadline)));
    }

    /// @dev The EIP-712 digest of a SetListingActive message, computed independently of the registry.
    function _setActiveDigest(uint256 datasetId, bool active, uint256 nonce, uint256 deadline)
        internal
        view
        returns (bytes32)
    {
        return _typedDigest(keccak256(abi.encode(SET_ACTIVE_TYPEHASH, datasetId, active, nonce, deadline)));
    }

    /// @dev A 65-byte `r || s || v` signature of an UpdateListing message by `key`.
    function _signUpdate(
        uint256 key,
        uint256 datasetId,
        IDatasetRegistry.AccessMode accessMode,
        uint256 price,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (bytes memory) {
        return _signDigest(key, _updateDigest(datasetId, accessMode, price, nonce, deadline));
    }

    /// @dev A 65-byte `r || s || v` signature of a SetListingActive message by `key`.
    function _signSetActive(uint256 key, uint256 datasetId, bool active, uint256 nonce, uint256 deadline)
        internal
        view
        returns (bytes memory)
    {
        return _signDigest(key, _setActiveDigest(datasetId, active, nonce, deadline));
    }

    /// @dev `\x19\x01 || domainSeparator || structHash`, hashed, with the registry's domain built by hand.
    function _typedDigest(bytes32 structHash) internal view returns (bytes32) {
        bytes32 domainSeparator = keccak256(
            abi.encode(
                DOMAIN_TYPEHASH,
                keccak256("FedMarket DatasetRegistry"),
                keccak256("2"),
                block.chainid,
                address(registry)
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator, structHash));
    }

    /// @dev A 65-byte `r || s || v` signature of `digest` by `key`.
    function _signDigest(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev A 65-byte `r || s || v` signature of a ListDataset message by `key`.
    function _sign(
        uint256 key,
        address listingOwner,
        bytes32 metadataHash,
        string memory metadataCid,
        IDatasetRegistry.AccessMode accessMode,
        uint256 price,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (bytes memory) {
        return _signDigest(key, _digest(listingOwner, metadataHash, metadataCid, accessMode, price, nonce, deadline));
    }

    /// @dev The address `ecrecover` yields for a 65-byte signature over `digest`.
    function _recover(bytes32 digest, bytes memory signature) internal pure returns (address) {
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := mload(add(signature, 0x20))
            s := mload(add(signature, 0x40))
            v := byte(0, mload(add(signature, 0x60)))
        }
        return ecrecover(digest, v, r, s);
    }
}
