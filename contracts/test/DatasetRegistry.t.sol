// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DatasetRegistry} from "../DatasetRegistry.sol";
import {IDatasetRegistry} from "../interfaces/IDatasetRegistry.sol";
import {Test} from "./utils/Test.sol";

/// @notice Tests of DatasetRegistry: direct listings, EIP-712 relayed listings, delisting, views.
contract DatasetRegistryTest is Test {
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant LIST_TYPEHASH = keccak256(
        "ListDataset(address owner,bytes32 metadataHash,string metadataCid,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant HASH = keccak256("metadata.json");
    string private constant CID = "bafkreimetadata";
    uint256 private constant SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    DatasetRegistry private registry;
    address private owner;
    uint256 private ownerKey;
    address private other;
    uint256 private otherKey;
    address private relayer;

    function setUp() public {
        registry = new DatasetRegistry();
        (owner, ownerKey) = makeAddrAndKey("owner");
        (other, otherKey) = makeAddrAndKey("other");
        relayer = makeAddr("relayer");
        vm.warp(1_700_000_000);
    }

    // ------------------------------------------------------------------ EIP-712 domain

    function test_DOMAIN_SEPARATOR_matchesEip712Domain() public view {
        bytes32 expected = keccak256(
            abi.encode(
                DOMAIN_TYPEHASH,
                keccak256("FedMarket DatasetRegistry"),
                keccak256("1"),
                block.chainid,
                address(registry)
            )
        );
        vm.assertEq(registry.DOMAIN_SEPARATOR(), expected, "domain separator");
        vm.assertEq(registry.LIST_DATASET_TYPEHASH(), LIST_TYPEHASH, "type hash");
    }

    function test_eip712Domain_reportsNameAndVersion() public view {
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            registry.eip712Domain();
        vm.assertEq(name, "FedMarket DatasetRegistry", "name");
        vm.assertEq(version, "1", "version");
        vm.assertEq(chainId, block.chainid, "chain id");
        vm.assertEq(verifyingContract, address(registry), "verifying contract");
    }

    // ------------------------------------------------------------------ listDataset

    function test_listDataset_recordsListingAndEmits() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit IDatasetRegistry.DatasetListed(1, owner, HASH, CID);
        vm.prank(owner);
        uint256 datasetId = registry.listDataset(HASH, CID);

        vm.assertEq(datasetId, 1, "ids start at 1");
        vm.assertEq(registry.datasetCount(), 1, "count");
        vm.assertEq(registry.datasetIdOf(HASH), 1, "id by hash");
        IDatasetRegistry.Listing memory listing = registry.getListing(1);
        vm.assertEq(listing.owner, owner, "owner");
        vm.assertEq(listing.metadataHash, HASH, "hash");
        vm.assertEq(listing.metadataCid, CID, "cid");
        vm.assertEq(listing.listedAt, 1_700_000_000, "listedAt");
        vm.assertTrue(listing.active, "active");
        vm.assertEq(registry.nonces(owner), 0, "direct listing uses no nonce");
    }

    function test_listDataset_assignsSequentialIds() public {
        vm.prank(owner);
        vm.assertEq(registry.listDataset(HASH, CID), 1, "first");
        vm.prank(other);
        vm.assertEq(registry.listDataset(keccak256("second"), "bafkreisecond"), 2, "second");
        vm.assertEq(registry.datasetCount(), 2, "count");
        vm.assertEq(registry.getListing(2).owner, other, "second owner");
    }

    function test_listDataset_revertsWhenHashZero() public {
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryZeroHash.selector));
        vm.prank(owner);
        registry.listDataset(bytes32(0), CID);
    }

    function test_listDataset_revertsWhenHashAlreadyListed() public {
        vm.prank(owner);
        registry.listDataset(HASH, CID);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryDuplicateListing.selector, HASH, 1));
        vm.prank(other);
        registry.listDataset(HASH, "bafkreiother");
    }

    function test_listDataset_revertsWhenHashWasDelisted() public {
        vm.startPrank(owner);
        registry.listDataset(HASH, CID);
        registry.delistDataset(1);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryDuplicateListing.selector, HASH, 1));
        registry.listDataset(HASH, CID);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ listDatasetFor (EIP-712)

    function test_listDatasetFor_listsForTheSigningOwner() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, 0, deadline);

        vm.expectEmit(true, true, true, true, address(registry));
        emit IDatasetRegistry.DatasetListed(1, owner, HASH, CID);
        vm.prank(relayer);
        uint256 datasetId = registry.listDatasetFor(owner, HASH, CID, deadline, signature);

        vm.assertEq(datasetId, 1, "id");
        vm.assertEq(registry.getListing(1).owner, owner, "attributed to the signer, not the relayer");
        vm.assertEq(registry.nonces(owner), 1, "nonce consumed");
    }

    function test_listDatasetFor_acceptsSignatureAtDeadline() public {
        uint256 deadline = block.timestamp;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, 0, deadline);
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, deadline, signature);
        vm.assertEq(registry.datasetIdOf(HASH), 1, "listed");
    }

    function test_listDatasetFor_usesConsecutiveNonces() public {
        uint256 deadline = block.timestamp + 1;
        bytes memory first = _sign(ownerKey, owner, HASH, CID, 0, deadline);
        bytes memory second = _sign(ownerKey, owner, keccak256("b"), "bafkreib", 1, deadline);
        vm.startPrank(relayer);
        registry.listDatasetFor(owner, HASH, CID, deadline, first);
        registry.listDatasetFor(owner, keccak256("b"), "bafkreib", deadline, second);
        vm.stopPrank();
        vm.assertEq(registry.nonces(owner), 2, "two nonces used");
        vm.assertEq(registry.getListing(2).owner, owner, "second listing");
    }

    function test_listDatasetFor_revertsWhenExpired() public {
        uint256 deadline = block.timestamp - 1;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryExpiredSignature.selector, deadline));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, deadline, signature);
    }

    function test_listDatasetFor_revertsWhenSignedByAnotherKey() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(otherKey, owner, HASH, CID, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, other, owner));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, deadline, signature);
    }

    function test_listDatasetFor_revertsWhenNonceReplayed() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, 0, deadline);
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, deadline, signature);
        vm.prank(owner);
        registry.delistDataset(1);

        // The same signature checked against nonce 1 recovers some unrelated address.
        address recovered = _recover(_digest(owner, HASH, CID, 1, deadline), signature);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, recovered, owner));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, deadline, signature);
    }

    function test_listDatasetFor_revertsWhenSignedForAnotherNonce() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, 5, deadline);
        address recovered = _recover(_digest(owner, HASH, CID, 0, deadline), signature);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, recovered, owner));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, deadline, signature);
    }

    function test_listDatasetFor_revertsWhenCidTampered() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, 0, deadline);
        address recovered = _recover(_digest(owner, HASH, "bafkreievil", 0, deadline), signature);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, recovered, owner));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, "bafkreievil", deadline, signature);
    }

    function test_listDatasetFor_revertsWhenSignatureMalformed() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, 0, deadline);
        bytes memory truncated = new bytes(64);
        for (uint256 i = 0; i < 64; ++i) {
            truncated[i] = signature[i];
        }
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, address(0), owner));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, deadline, truncated);
    }

    function test_listDatasetFor_revertsWhenOwnerZero() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, address(0), HASH, CID, 0, deadline);
        vm.expectRevert(
            abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, owner, address(0))
        );
        vm.prank(relayer);
        registry.listDatasetFor(address(0), HASH, CID, deadline, signature);
    }

    function test_listDatasetFor_revertsWhenHashZero() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, bytes32(0), CID, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryZeroHash.selector));
        vm.prank(relayer);
        registry.listDatasetFor(owner, bytes32(0), CID, deadline, signature);
    }

    function test_listDatasetFor_revertsWhenHashAlreadyListed() public {
        vm.prank(other);
        registry.listDataset(HASH, CID);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryDuplicateListing.selector, HASH, 1));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, deadline, signature);
    }

    function testFuzz_listDatasetFor_acceptsAnyOwnerKey(
        uint256 key,
        bytes32 metadataHash,
        string calldata metadataCid,
        uint256 ttl
    ) public {
        key = bound(key, 1, SECP256K1_ORDER - 1);
        vm.assume(metadataHash != bytes32(0));
        uint256 deadline = block.timestamp + bound(ttl, 0, 365 days);
        address signer = vm.addr(key);
        bytes memory signature = _sign(key, signer, metadataHash, metadataCid, 0, deadline);

        vm.prank(relayer);
        uint256 datasetId = registry.listDatasetFor(signer, metadataHash, metadataCid, deadline, signature);

        IDatasetRegistry.Listing memory listing = registry.getListing(datasetId);
        vm.assertEq(listing.owner, signer, "owner");
        vm.assertEq(listing.metadataCid, metadataCid, "cid");
        vm.assertEq(registry.nonces(signer), 1, "nonce");
    }

    function testFuzz_listDatasetFor_rejectsAnyOtherKey(uint256 key, bytes32 metadataHash) public {
        key = bound(key, 1, SECP256K1_ORDER - 1);
        vm.assume(key != ownerKey);
        uint256 deadline = block.timestamp + 1;
        bytes memory signature = _sign(key, owner, metadataHash, CID, 0, deadline);
        vm.expectRevert(
            abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, vm.addr(key), owner)
        );
        vm.prank(relayer);
        registry.listDatasetFor(owner, metadataHash, CID, deadline, signature);
    }

    // ------------------------------------------------------------------ delistDataset

    function test_delistDataset_marksInactiveAndEmits() public {
        vm.prank(owner);
        registry.listDataset(HASH, CID);

        vm.expectEmit(true, true, true, true, address(registry));
        emit IDatasetRegistry.DatasetDelisted(1, owner);
        vm.prank(owner);
        registry.delistDataset(1);

        IDatasetRegistry.Listing memory listing = registry.getListing(1);
        vm.assertFalse(listing.active, "inactive");
        vm.assertEq(listing.owner, owner, "record kept");
        vm.assertEq(registry.datasetIdOf(HASH), 1, "hash stays taken");
    }

    function test_delistDataset_revertsWhenUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryUnknownDataset.selector, 0));
        vm.prank(owner);
        registry.delistDataset(0);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryUnknownDataset.selector, 1));
        vm.prank(owner);
        registry.delistDataset(1);
    }

    function test_delistDataset_revertsWhenNotOwner() public {
        vm.prank(owner);
        registry.listDataset(HASH, CID);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryNotOwner.selector, 1, relayer));
        vm.prank(relayer);
        registry.delistDataset(1);
    }

    function test_delistDataset_revertsWhenAlreadyDelisted() public {
        vm.startPrank(owner);
        registry.listDataset(HASH, CID);
        registry.delistDataset(1);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryAlreadyDelisted.selector, 1));
        registry.delistDataset(1);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ views

    function test_getListing_revertsWhenUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryUnknownDataset.selector, 3));
        registry.getListing(3);
    }

    function test_datasetIdOf_isZeroWhenNeverListed() public view {
        vm.assertEq(registry.datasetIdOf(HASH), 0, "none");
        vm.assertEq(registry.datasetCount(), 0, "empty");
    }

    // ------------------------------------------------------------------ helpers

    /// @dev The EIP-712 digest of a ListDataset message, computed independently of the registry.
    function _digest(
        address listingOwner,
        bytes32 metadataHash,
        string memory metadataCid,
        uint256 nonce,
        uint256 deadline
    ) private view returns (bytes32) {
        bytes32 domainSeparator = keccak256(
            abi.encode(
                DOMAIN_TYPEHASH,
                keccak256("FedMarket DatasetRegistry"),
                keccak256("1"),
                block.chainid,
                address(registry)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(LIST_TYPEHASH, listingOwner, metadataHash, keccak256(bytes(metadataCid)), nonce, deadline)
        );
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator, structHash));
    }

    function _sign(
        uint256 key,
        address listingOwner,
        bytes32 metadataHash,
        string memory metadataCid,
        uint256 nonce,
        uint256 deadline
    ) private view returns (bytes memory) {
        bytes32 digest = _digest(listingOwner, metadataHash, metadataCid, nonce, deadline);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _recover(bytes32 digest, bytes memory signature) private pure returns (address) {
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
