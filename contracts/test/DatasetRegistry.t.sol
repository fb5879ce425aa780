// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {DatasetRegistry} from "../DatasetRegistry.sol";
import {IDatasetRegistry} from "../interfaces/IDatasetRegistry.sol";
import {FeeToSinkToken} from "./mocks/FeeToSinkToken.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";

/**
 * @notice Tests of DatasetRegistry v2: per-owner listings, access modes and prices, EIP-712 relayed listings and
 * nonce cancellation, owner-only edits, sales with a capped fee, licences, pull withdrawals, roles and pause.
 */
contract DatasetRegistryTest is RegistryFixture {
    IDatasetRegistry.AccessMode private constant FEDERATED = IDatasetRegistry.AccessMode.FederatedOnly;
    IDatasetRegistry.AccessMode private constant DOWNLOADABLE = IDatasetRegistry.AccessMode.Downloadable;
    uint256 private constant SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    // ------------------------------------------------------------------ constructor and EIP-712 domain

    function test_constructor_setsTokenRolesAndFee() public view {
        vm.assertEq(registry.token(), address(token), "token");
        (uint16 feeBps, address recipient) = registry.feeConfig();
        vm.assertEq(feeBps, FEE_BPS, "fee");
        vm.assertEq(recipient, feeRecipient, "fee recipient");
        vm.assertEq(registry.MAX_FEE_BPS(), 1_000, "fee cap");
        vm.assertTrue(registry.hasRole(registry.DEFAULT_ADMIN_ROLE(), admin), "admin");
        vm.assertTrue(registry.hasRole(registry.PAUSER_ROLE(), admin), "pauser");
        vm.assertTrue(registry.hasRole(registry.FEE_ROLE(), admin), "fee role");
        vm.assertFalse(registry.hasRole(registry.DEFAULT_ADMIN_ROLE(), address(this)), "deployer gets nothing");
        vm.assertFalse(registry.paused(), "not paused");
    }

    function test_constructor_revertsWhenTokenZero() public {
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryZeroAddress.selector, "token"));
        new DatasetRegistry(IERC20(address(0)), admin, feeRecipient, FEE_BPS);
    }

    function test_constructor_revertsWhenAdminZero() public {
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryZeroAddress.selector, "admin"));
        new DatasetRegistry(token, address(0), feeRecipient, FEE_BPS);
    }

    function test_constructor_revertsWhenFeeRecipientZero() public {
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryZeroAddress.selector, "feeRecipient"));
        new DatasetRegistry(token, admin, address(0), FEE_BPS);
    }

    function test_constructor_revertsWhenFeeAboveCap() public {
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryFeeTooHigh.selector, 1_001, 1_000));
        new DatasetRegistry(token, admin, feeRecipient, 1_001);
    }

    function test_DOMAIN_SEPARATOR_matchesEip712DomainVersion2() public view {
        bytes32 expected = keccak256(
            abi.encode(
                DOMAIN_TYPEHASH, keccak256("FedMarket DatasetRegistry"), keccak256("2"), block.chainid, address(registry)
            )
        );
        vm.assertEq(registry.DOMAIN_SEPARATOR(), expected, "domain separator");
        vm.assertEq(registry.LIST_DATASET_TYPEHASH(), LIST_TYPEHASH, "type hash");
    }

    function test_eip712Domain_reportsNameAndVersion() public view {
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            registry.eip712Domain();
        vm.assertEq(name, "FedMarket DatasetRegistry", "name");
        vm.assertEq(version, "2", "version");
        vm.assertEq(chainId, block.chainid, "chain id");
        vm.assertEq(verifyingContract, address(registry), "verifying contract");
    }

    // ------------------------------------------------------------------ listDataset

    function test_listDataset_recordsDownloadableListingAndEmits() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit IDatasetRegistry.DatasetListed(1, owner, HASH, CID, DOWNLOADABLE, PRICE);
        vm.prank(owner);
        uint256 datasetId = registry.listDataset(HASH, CID, DOWNLOADABLE, PRICE);

        vm.assertEq(datasetId, 1, "ids start at 1");
        vm.assertEq(registry.datasetCount(), 1, "count");
        vm.assertEq(registry.datasetIdOf(owner, HASH), 1, "id by owner and hash");
        IDatasetRegistry.Listing memory listing = registry.getListing(1);
        vm.assertEq(listing.owner, owner, "owner");
        vm.assertEq(uint256(listing.accessMode), uint256(DOWNLOADABLE), "mode");
        vm.assertTrue(listing.active, "active");
        vm.assertEq(listing.listedAt, 1_700_000_000, "listedAt");
        vm.assertEq(listing.metadataHash, HASH, "hash");
        vm.assertEq(listing.price, PRICE, "price");
        vm.assertEq(listing.metadataCid, CID, "cid");
        vm.assertEq(registry.nonces(owner), 0, "direct listing uses no nonce");
    }

    function test_listDataset_recordsFederatedOnlyListingAtPriceZero() public {
        vm.prank(owner);
        uint256 datasetId = registry.listDataset(HASH, CID, FEDERATED, 0);
        IDatasetRegistry.Listing memory listing = registry.getListing(datasetId);
        vm.assertEq(uint256(listing.accessMode), uint256(FEDERATED), "mode");
        vm.assertEq(listing.price, 0, "price");
    }

    function test_listDataset_assignsSequentialIds() public {
        vm.prank(owner);
        vm.assertEq(registry.listDataset(HASH, CID, FEDERATED, 0), 1, "first");
        vm.prank(other);
        vm.assertEq(registry.listDataset(keccak256("second"), "bafkreisecond", DOWNLOADABLE, 1), 2, "second");
        vm.assertEq(registry.datasetCount(), 2, "count");
        vm.assertEq(registry.getListing(2).owner, other, "second owner");
    }

    function test_listDataset_revertsWhenHashZero() public {
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryZeroHash.selector));
        vm.prank(owner);
        registry.listDataset(bytes32(0), CID, FEDERATED, 0);
    }

    function test_listDataset_revertsWhenOwnerListedHashBefore() public {
        vm.startPrank(owner);
        registry.listDataset(HASH, CID, FEDERATED, 0);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryDuplicateListing.selector, owner, HASH, 1));
        registry.listDataset(HASH, "bafkreiother", DOWNLOADABLE, 5);
        vm.stopPrank();
    }

    function test_listDataset_revertsWhenOwnHashWasDelisted() public {
        vm.startPrank(owner);
        registry.listDataset(HASH, CID, FEDERATED, 0);
        registry.delistDataset(1);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryDuplicateListing.selector, owner, HASH, 1));
        registry.listDataset(HASH, CID, FEDERATED, 0);
        vm.stopPrank();
    }

    function test_listDataset_revertsWhenFederatedOnlyHasPrice() public {
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidPrice.selector, FEDERATED, 1));
        vm.prank(owner);
        registry.listDataset(HASH, CID, FEDERATED, 1);
    }

    function test_listDataset_revertsWhenPaused() public {
        vm.prank(admin);
        registry.pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        vm.prank(owner);
        registry.listDataset(HASH, CID, FEDERATED, 0);
    }

    /// @notice Attack: a squatter copies the owner's pending metadata hash; it only lists under its own name.
    function test_listDataset_squatterBlocksNobody() public {
        vm.prank(other);
        uint256 squatted = registry.listDataset(HASH, CID, DOWNLOADABLE, 1);

        vm.prank(owner);
        uint256 genuine = registry.listDataset(HASH, CID, DOWNLOADABLE, PRICE);

        vm.assertEq(registry.getListing(squatted).owner, other, "the copy is attributed to the squatter");
        vm.assertEq(registry.getListing(genuine).owner, owner, "the owner still lists");
        vm.assertEq(registry.datasetIdOf(other, HASH), squatted, "squatter's pair");
        vm.assertEq(registry.datasetIdOf(owner, HASH), genuine, "owner's pair");
    }

    // ------------------------------------------------------------------ listDatasetFor (EIP-712)

    function test_listDatasetFor_listsForTheSigningOwner() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, DOWNLOADABLE, PRICE, 0, deadline);

        vm.expectEmit(true, true, true, true, address(registry));
        emit IDatasetRegistry.DatasetListed(1, owner, HASH, CID, DOWNLOADABLE, PRICE);
        vm.prank(relayer);
        uint256 datasetId = registry.listDatasetFor(owner, HASH, CID, DOWNLOADABLE, PRICE, deadline, signature);

        vm.assertEq(datasetId, 1, "id");
        IDatasetRegistry.Listing memory listing = registry.getListing(1);
        vm.assertEq(listing.owner, owner, "attributed to the signer, not the relayer");
        vm.assertEq(listing.price, PRICE, "signed price");
        vm.assertEq(uint256(listing.accessMode), uint256(DOWNLOADABLE), "signed mode");
        vm.assertEq(registry.nonces(owner), 1, "nonce consumed");
    }

    function test_listDatasetFor_acceptsSignatureAtDeadline() public {
        uint256 deadline = block.timestamp;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, FEDERATED, 0, 0, deadline);
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, FEDERATED, 0, deadline, signature);
        vm.assertEq(registry.datasetIdOf(owner, HASH), 1, "listed");
    }

    function test_listDatasetFor_usesConsecutiveNonces() public {
        uint256 deadline = block.timestamp + 1;
        bytes memory first = _sign(ownerKey, owner, HASH, CID, FEDERATED, 0, 0, deadline);
        bytes memory second = _sign(ownerKey, owner, keccak256("b"), "bafkreib", DOWNLOADABLE, 3, 1, deadline);
        vm.startPrank(relayer);
        registry.listDatasetFor(owner, HASH, CID, FEDERATED, 0, deadline, first);
        registry.listDatasetFor(owner, keccak256("b"), "bafkreib", DOWNLOADABLE, 3, deadline, second);
        vm.stopPrank();
        vm.assertEq(registry.nonces(owner), 2, "two nonces used");
        vm.assertEq(registry.getListing(2).owner, owner, "second listing");
    }

    function test_listDatasetFor_revertsWhenExpired() public {
        uint256 deadline = block.timestamp - 1;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, FEDERATED, 0, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryExpiredSignature.selector, deadline));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, FEDERATED, 0, deadline, signature);
    }

    function test_listDatasetFor_revertsWhenSignedByAnotherKey() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(otherKey, owner, HASH, CID, FEDERATED, 0, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, other, owner));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, FEDERATED, 0, deadline, signature);
    }

    /// @notice Attack: a relayer replays a listing signature after the owner delisted.
    function test_listDatasetFor_revertsWhenSignatureReplayed() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, DOWNLOADABLE, PRICE, 0, deadline);
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, DOWNLOADABLE, PRICE, deadline, signature);
        vm.prank(owner);
        registry.delistDataset(1);

        // The same signature checked against nonce 1 recovers some unrelated address.
        address recovered = _recover(_digest(owner, HASH, CID, DOWNLOADABLE, PRICE, 1, deadline), signature);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, recovered, owner));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, DOWNLOADABLE, PRICE, deadline, signature);
        vm.assertFalse(registry.getListing(1).active, "still delisted");
    }

    /// @notice Attack: a relayer holds back a signature the owner has since cancelled with useNonce.
    function test_listDatasetFor_revertsWhenNonceCancelled() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, DOWNLOADABLE, 1, 0, deadline);
        vm.prank(owner);
        registry.useNonce();

        address recovered = _recover(_digest(owner, HASH, CID, DOWNLOADABLE, 1, 1, deadline), signature);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, recovered, owner));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, DOWNLOADABLE, 1, deadline, signature);
        vm.assertEq(registry.datasetCount(), 0, "nothing listed");
    }

    function test_listDatasetFor_revertsWhenSignedForAnotherNonce() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, FEDERATED, 0, 5, deadline);
        address recovered = _recover(_digest(owner, HASH, CID, FEDERATED, 0, 0, deadline), signature);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, recovered, owner));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, FEDERATED, 0, deadline, signature);
    }

    function test_listDatasetFor_revertsWhenCidTampered() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, FEDERATED, 0, 0, deadline);
        address recovered = _recover(_digest(owner, HASH, "bafkreievil", FEDERATED, 0, 0, deadline), signature);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, recovered, owner));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, "bafkreievil", FEDERATED, 0, deadline, signature);
    }

    /// @notice Attack: a relayer lowers the signed price.
    function test_listDatasetFor_revertsWhenPriceTampered() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, DOWNLOADABLE, PRICE, 0, deadline);
        address recovered = _recover(_digest(owner, HASH, CID, DOWNLOADABLE, 1, 0, deadline), signature);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, recovered, owner));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, DOWNLOADABLE, 1, deadline, signature);
    }

    /// @notice Attack: a relayer turns a federated-only listing into a downloadable one.
    function test_listDatasetFor_revertsWhenAccessModeTampered() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, FEDERATED, 0, 0, deadline);
        address recovered = _recover(_digest(owner, HASH, CID, DOWNLOADABLE, 0, 0, deadline), signature);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, recovered, owner));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, DOWNLOADABLE, 0, deadline, signature);
    }

    function test_listDatasetFor_revertsWhenSignatureMalformed() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, FEDERATED, 0, 0, deadline);
        bytes memory truncated = new bytes(64);
        for (uint256 i = 0; i < 64; ++i) {
            truncated[i] = signature[i];
        }
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, address(0), owner));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, FEDERATED, 0, deadline, truncated);
    }

    function test_listDatasetFor_revertsWhenOwnerZero() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, address(0), HASH, CID, FEDERATED, 0, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, owner, address(0)));
        vm.prank(relayer);
        registry.listDatasetFor(address(0), HASH, CID, FEDERATED, 0, deadline, signature);
    }

    function test_listDatasetFor_revertsWhenHashZero() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, bytes32(0), CID, FEDERATED, 0, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryZeroHash.selector));
        vm.prank(relayer);
        registry.listDatasetFor(owner, bytes32(0), CID, FEDERATED, 0, deadline, signature);
    }

    function test_listDatasetFor_revertsWhenOwnerListedHashBefore() public {
        vm.prank(owner);
        registry.listDataset(HASH, CID, FEDERATED, 0);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, FEDERATED, 0, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryDuplicateListing.selector, owner, HASH, 1));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, FEDERATED, 0, deadline, signature);
    }

    function test_listDatasetFor_revertsWhenFederatedOnlyHasPrice() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, FEDERATED, 9, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidPrice.selector, FEDERATED, 9));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, FEDERATED, 9, deadline, signature);
    }

    function test_listDatasetFor_revertsWhenPaused() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, FEDERATED, 0, 0, deadline);
        vm.prank(admin);
        registry.pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        vm.prank(relayer);
        registry.listDatasetFor(owner, HASH, CID, FEDERATED, 0, deadline, signature);
    }

    /// @notice Attack: a squatter front-runs a pending relayed listing with the same hash; the owner's lands.
    function test_listDatasetFor_succeedsAfterSquatterCopiedThePendingHash() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(ownerKey, owner, HASH, CID, DOWNLOADABLE, PRICE, 0, deadline);
        vm.prank(other);
        registry.listDataset(HASH, CID, DOWNLOADABLE, 1);

        vm.prank(relayer);
        uint256 datasetId = registry.listDatasetFor(owner, HASH, CID, DOWNLOADABLE, PRICE, deadline, signature);
        vm.assertEq(registry.getListing(datasetId).owner, owner, "owner's listing recorded");
    }

    function testFuzz_listDatasetFor_acceptsAnyOwnerKey(
        uint256 key,
        bytes32 metadataHash,
        string calldata metadataCid,
        bool downloadable,
        uint256 price,
        uint256 ttl
    ) public {
        key = bound(key, 1, SECP256K1_ORDER - 1);
        vm.assume(metadataHash != bytes32(0));
        IDatasetRegistry.AccessMode mode = downloadable ? DOWNLOADABLE : FEDERATED;
        if (!downloadable) price = 0;
        uint256 deadline = block.timestamp + bound(ttl, 0, 365 days);
        address signer = vm.addr(key);
        bytes memory signature = _sign(key, signer, metadataHash, metadataCid, mode, price, 0, deadline);

        vm.prank(relayer);
        uint256 datasetId = registry.listDatasetFor(signer, metadataHash, metadataCid, mode, price, deadline, signature);

        IDatasetRegistry.Listing memory listing = registry.getListing(datasetId);
        vm.assertEq(listing.owner, signer, "owner");
        vm.assertEq(listing.metadataCid, metadataCid, "cid");
        vm.assertEq(listing.price, price, "price");
        vm.assertEq(uint256(listing.accessMode), uint256(mode), "mode");
        vm.assertEq(registry.nonces(signer), 1, "nonce");
    }

    function testFuzz_listDatasetFor_rejectsAnyOtherKey(uint256 key, bytes32 metadataHash) public {
        key = bound(key, 1, SECP256K1_ORDER - 1);
        vm.assume(key != ownerKey);
        uint256 deadline = block.timestamp + 1;
        bytes memory signature = _sign(key, owner, metadataHash, CID, FEDERATED, 0, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, vm.addr(key), owner));
        vm.prank(relayer);
        registry.listDatasetFor(owner, metadataHash, CID, FEDERATED, 0, deadline, signature);
    }

    // ------------------------------------------------------------------ useNonce

    function test_useNonce_consumesTheCurrentNonceAndEmits() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit IDatasetRegistry.NonceUsed(owner, 0);
        vm.prank(owner);
        vm.assertEq(registry.useNonce(), 0, "returns the nonce consumed");
        vm.assertEq(registry.nonces(owner), 1, "moved on");
        vm.assertEq(registry.nonces(other), 0, "per owner");
    }

    function test_useNonce_worksWhilePaused() public {
        vm.prank(admin);
        registry.pause();
        vm.prank(owner);
        registry.useNonce();
        vm.assertEq(registry.nonces(owner), 1, "cancelled during a pause");
    }

    // ------------------------------------------------------------------ updateListing

    function test_updateListing_changesModeAndPriceAndEmits() public {
        vm.prank(owner);
        registry.listDataset(HASH, CID, FEDERATED, 0);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IDatasetRegistry.ListingUpdated(1, DOWNLOADABLE, 42);
        vm.prank(owner);
        registry.updateListing(1, DOWNLOADABLE, 42);
        IDatasetRegistry.Listing memory listing = registry.getListing(1);
        vm.assertEq(uint256(listing.accessMode), uint256(DOWNLOADABLE), "mode");
        vm.assertEq(listing.price, 42, "price");
    }

    /// @notice Attack: a non-owner edits someone else's listing.
    function test_updateListing_revertsWhenNotOwner() public {
        _listDownloadable(PRICE);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryNotOwner.selector, 1, other));
        vm.prank(other);
        registry.updateListing(1, DOWNLOADABLE, 1);
        vm.assertEq(registry.getListing(1).price, PRICE, "unchanged");
    }

    function test_updateListing_revertsWhenUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryUnknownDataset.selector, 1));
        vm.prank(owner);
        registry.updateListing(1, FEDERATED, 0);
    }

    function test_updateListing_revertsWhenFederatedOnlyHasPrice() public {
        _listDownloadable(PRICE);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidPrice.selector, FEDERATED, PRICE));
        vm.prank(owner);
        registry.updateListing(1, FEDERATED, PRICE);
    }

    function test_updateListing_worksWhileDelistedAndPaused() public {
        _listDownloadable(PRICE);
        vm.prank(owner);
        registry.delistDataset(1);
        vm.prank(admin);
        registry.pause();
        vm.prank(owner);
        registry.updateListing(1, FEDERATED, 0);
        vm.assertEq(uint256(registry.getListing(1).accessMode), uint256(FEDERATED), "updated");
    }

    // ------------------------------------------------------------------ delistDataset / relistDataset

    function test_delistDataset_marksInactiveAndEmits() public {
        _listDownloadable(PRICE);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IDatasetRegistry.DatasetDelisted(1, owner);
        vm.prank(owner);
        registry.delistDataset(1);

        IDatasetRegistry.Listing memory listing = registry.getListing(1);
        vm.assertFalse(listing.active, "inactive");
        vm.assertEq(listing.owner, owner, "record kept");
        vm.assertEq(registry.datasetIdOf(owner, HASH), 1, "pair stays taken");
    }

    function test_delistDataset_revertsWhenUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryUnknownDataset.selector, 0));
        vm.prank(owner);
        registry.delistDataset(0);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryUnknownDataset.selector, 1));
        vm.prank(owner);
        registry.delistDataset(1);
    }

    /// @notice Attack: a non-owner delists someone else's listing.
    function test_delistDataset_revertsWhenNotOwner() public {
        _listDownloadable(PRICE);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryNotOwner.selector, 1, relayer));
        vm.prank(relayer);
        registry.delistDataset(1);
        vm.assertTrue(registry.getListing(1).active, "still active");
    }

    function test_delistDataset_revertsWhenAlreadyDelisted() public {
        _listDownloadable(PRICE);
        vm.startPrank(owner);
        registry.delistDataset(1);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryAlreadyDelisted.selector, 1));
        registry.delistDataset(1);
        vm.stopPrank();
    }

    function test_delistDataset_worksWhilePaused() public {
        _listDownloadable(PRICE);
        vm.prank(admin);
        registry.pause();
        vm.prank(owner);
        registry.delistDataset(1);
        vm.assertFalse(registry.getListing(1).active, "delisted during a pause");
    }

    function test_relistDataset_reactivatesAndEmits() public {
        _listDownloadable(PRICE);
        vm.prank(owner);
        registry.delistDataset(1);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IDatasetRegistry.DatasetRelisted(1, owner);
        vm.prank(owner);
        registry.relistDataset(1);
        vm.assertTrue(registry.getListing(1).active, "active again");
    }

    /// @notice Attack: a non-owner relists a listing its owner took down.
    function test_relistDataset_revertsWhenNotOwner() public {
        _listDownloadable(PRICE);
        vm.prank(owner);
        registry.delistDataset(1);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryNotOwner.selector, 1, other));
        vm.prank(other);
        registry.relistDataset(1);
    }

    function test_relistDataset_revertsWhenActive() public {
        _listDownloadable(PRICE);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryNotDelisted.selector, 1));
        vm.prank(owner);
        registry.relistDataset(1);
    }

    function test_relistDataset_revertsWhenUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryUnknownDataset.selector, 4));
        vm.prank(owner);
        registry.relistDataset(4);
    }

    function test_relistDataset_revertsWhenPaused() public {
        _listDownloadable(PRICE);
        vm.prank(owner);
        registry.delistDataset(1);
        vm.prank(admin);
        registry.pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        vm.prank(owner);
        registry.relistDataset(1);
    }

    // ------------------------------------------------------------------ buyDataset

    function test_buyDataset_splitsPriceAndRecordsLicence() public {
        _listDownloadable(PRICE);
        _fund(buyer, PRICE);
        uint256 fee = (PRICE * FEE_BPS) / BPS;

        vm.expectEmit(true, true, true, true, address(registry));
        emit IDatasetRegistry.DatasetBought(1, buyer, PRICE, fee, PRICE - fee);
        vm.prank(buyer);
        registry.buyDataset(1, type(uint256).max);

        vm.assertEq(token.balanceOf(buyer), 0, "price pulled");
        vm.assertEq(token.balanceOf(address(registry)), PRICE, "held by the registry");
        vm.assertEq(registry.withdrawable(feeRecipient), fee, "fee credited");
        vm.assertEq(registry.withdrawable(owner), PRICE - fee, "rest credited to the owner");
        vm.assertTrue(registry.hasLicence(1, buyer), "licensed");
        vm.assertFalse(registry.hasLicence(1, buyer2), "only the buyer");
        (uint64 atBlock, uint256 pricePaid) = registry.licenceOf(1, buyer);
        vm.assertEq(atBlock, block.number, "block recorded");
        vm.assertEq(pricePaid, PRICE, "price recorded");
    }

    function test_buyDataset_revertsWhenUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryUnknownDataset.selector, 1));
        vm.prank(buyer);
        registry.buyDataset(1, type(uint256).max);
    }

    function test_buyDataset_revertsWhenDelisted() public {
        _listDownloadable(PRICE);
        vm.prank(owner);
        registry.delistDataset(1);
        _fund(buyer, PRICE);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryDatasetInactive.selector, 1));
        vm.prank(buyer);
        registry.buyDataset(1, type(uint256).max);
    }

    /// @notice Attack: the owner raises the price after the buyer looked (front-running the purchase).
    function test_buyDataset_revertsWhenThePriceRoseAboveTheBuyersLimit() public {
        vm.startPrank(owner);
        registry.listDataset(HASH, CID, DOWNLOADABLE, PRICE);
        registry.updateListing(1, DOWNLOADABLE, PRICE * 3);
        vm.stopPrank();
        _fund(buyer, PRICE * 3);
        vm.expectRevert(
            abi.encodeWithSelector(IDatasetRegistry.RegistryPriceAboveMax.selector, 1, PRICE * 3, PRICE)
        );
        vm.prank(buyer);
        registry.buyDataset(1, PRICE);
        vm.assertFalse(registry.hasLicence(1, buyer), "no licence");
    }

    /// @notice Attack: buying a dataset whose owner only allows federated use.
    function test_buyDataset_revertsWhenFederatedOnly() public {
        vm.prank(owner);
        registry.listDataset(HASH, CID, FEDERATED, 0);
        _fund(buyer, PRICE);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryNotDownloadable.selector, 1));
        vm.prank(buyer);
        registry.buyDataset(1, type(uint256).max);
        vm.assertFalse(registry.hasLicence(1, buyer), "no licence");
    }

    /// @notice Attack: buying twice (a second payment would be wasted, a second licence meaningless).
    function test_buyDataset_revertsWhenAlreadyLicensed() public {
        _listDownloadable(PRICE);
        _fund(buyer, 2 * PRICE);
        vm.startPrank(buyer);
        registry.buyDataset(1, type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryAlreadyLicensed.selector, 1, buyer));
        registry.buyDataset(1, type(uint256).max);
        vm.stopPrank();
        vm.assertEq(token.balanceOf(buyer), PRICE, "charged once");
    }

    function test_buyDataset_revertsWhenPaused() public {
        _listDownloadable(PRICE);
        _fund(buyer, PRICE);
        vm.prank(admin);
        registry.pause();
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        vm.prank(buyer);
        registry.buyDataset(1, type(uint256).max);
    }

    /// @notice Attack: the owner raises the price just before a purchase; the buyer's exact allowance caps it.
    function test_buyDataset_revertsWhenOwnerRaisedPriceAboveAllowance() public {
        _listDownloadable(PRICE);
        _fund(buyer, 10 * PRICE);
        vm.prank(buyer);
        token.approve(address(registry), PRICE);
        vm.prank(owner);
        registry.updateListing(1, DOWNLOADABLE, 10 * PRICE);

        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, address(registry), PRICE, 10 * PRICE
            )
        );
        vm.prank(buyer);
        registry.buyDataset(1, type(uint256).max);
    }

    function test_buyDataset_recordsFreeLicenceWithoutTransfer() public {
        _listDownloadable(0);
        vm.prank(buyer);
        registry.buyDataset(1, type(uint256).max);
        vm.assertTrue(registry.hasLicence(1, buyer), "licensed");
        vm.assertEq(registry.withdrawable(owner), 0, "nothing owed");
        vm.assertEq(token.balanceOf(address(registry)), 0, "nothing held");
    }

    function test_buyDataset_keepsLicencesAcrossListingChanges() public {
        _listDownloadable(PRICE);
        _buyDataset(buyer);
        vm.startPrank(owner);
        registry.updateListing(1, FEDERATED, 0);
        registry.delistDataset(1);
        vm.stopPrank();
        vm.assertTrue(registry.hasLicence(1, buyer), "licence survives");
    }

    function test_buyDataset_creditsWhatWasReceived() public {
        FeeToSinkToken fot = new FeeToSinkToken();
        DatasetRegistry fotRegistry = new DatasetRegistry(IERC20(address(fot)), admin, feeRecipient, FEE_BPS);
        vm.prank(owner);
        fotRegistry.listDataset(HASH, CID, DOWNLOADABLE, 10_000);
        fot.mint(buyer, 10_000);
        vm.startPrank(buyer);
        fot.approve(address(fotRegistry), 10_000);
        fotRegistry.buyDataset(1, type(uint256).max);
        vm.stopPrank();

        uint256 received = 9_900;
        uint256 fee = (received * FEE_BPS) / BPS;
        vm.assertEq(fot.balanceOf(address(fotRegistry)), received, "received 99 %");
        vm.assertEq(fotRegistry.withdrawable(feeRecipient), fee, "fee on what was received");
        vm.assertEq(fotRegistry.withdrawable(owner), received - fee, "owner on what was received");
        (, uint256 pricePaid) = fotRegistry.licenceOf(1, buyer);
        vm.assertEq(pricePaid, received, "licence records what was received");
    }

    // ------------------------------------------------------------------ withdraw

    function test_withdraw_paysOwnerAndFeeRecipient() public {
        _listDownloadable(PRICE);
        _buyDataset(buyer);
        _buyDataset(buyer2);
        uint256 fee = (PRICE * FEE_BPS) / BPS;

        vm.expectEmit(true, true, true, true, address(registry));
        emit IDatasetRegistry.Withdrawn(owner, 2 * (PRICE - fee));
        vm.prank(owner);
        vm.assertEq(registry.withdraw(), 2 * (PRICE - fee), "owner's amount");
        vm.prank(feeRecipient);
        vm.assertEq(registry.withdraw(), 2 * fee, "fees");

        vm.assertEq(token.balanceOf(owner), 2 * (PRICE - fee), "owner paid");
        vm.assertEq(token.balanceOf(feeRecipient), 2 * fee, "fee recipient paid");
        vm.assertEq(token.balanceOf(address(registry)), 0, "nothing left");
        vm.assertEq(registry.withdrawable(owner), 0, "balance zeroed");
    }

    function test_withdraw_revertsWhenNothingToWithdraw() public {
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryNothingToWithdraw.selector, owner));
        vm.prank(owner);
        registry.withdraw();
    }

    function test_withdraw_revertsWhenWithdrawnTwice() public {
        _listDownloadable(PRICE);
        _buyDataset(buyer);
        vm.startPrank(owner);
        registry.withdraw();
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryNothingToWithdraw.selector, owner));
        registry.withdraw();
        vm.stopPrank();
    }

    function test_withdraw_worksWhilePaused() public {
        _listDownloadable(PRICE);
        _buyDataset(buyer);
        vm.prank(admin);
        registry.pause();
        vm.prank(owner);
        registry.withdraw();
        vm.assertEq(registry.withdrawable(owner), 0, "paid during a pause");
    }

    // ------------------------------------------------------------------ fees, roles, pause

    function test_setFeeBps_appliesToLaterSalesAndEmits() public {
        _listDownloadable(PRICE);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IDatasetRegistry.FeeChanged(1_000);
        vm.prank(admin);
        registry.setFeeBps(1_000);
        _buyDataset(buyer);
        vm.assertEq(registry.withdrawable(feeRecipient), PRICE / 10, "10 %");
    }

    /// @notice Attack: a fee admin sets the fee above the cap.
    function test_setFeeBps_revertsAboveCap() public {
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryFeeTooHigh.selector, 1_001, 1_000));
        vm.prank(admin);
        registry.setFeeBps(1_001);
    }

    function test_setFeeBps_revertsWithoutFeeRole() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, registry.FEE_ROLE()
            )
        );
        vm.prank(stranger);
        registry.setFeeBps(0);
    }

    function test_setFeeRecipient_redirectsLaterFeesOnly() public {
        _listDownloadable(PRICE);
        _buyDataset(buyer);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IDatasetRegistry.FeeRecipientChanged(stranger);
        vm.prank(admin);
        registry.setFeeRecipient(stranger);
        _buyDataset(buyer2);
        uint256 fee = (PRICE * FEE_BPS) / BPS;
        vm.assertEq(registry.withdrawable(feeRecipient), fee, "earlier fee stays with the old recipient");
        vm.assertEq(registry.withdrawable(stranger), fee, "later fee to the new one");
    }

    function test_setFeeRecipient_revertsWhenZero() public {
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryZeroAddress.selector, "feeRecipient"));
        vm.prank(admin);
        registry.setFeeRecipient(address(0));
    }

    function test_setFeeRecipient_revertsWithoutFeeRole() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, owner, registry.FEE_ROLE()
            )
        );
        vm.prank(owner);
        registry.setFeeRecipient(owner);
    }

    function test_pause_revertsWithoutPauserRole() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, registry.PAUSER_ROLE()
            )
        );
        vm.prank(stranger);
        registry.pause();
    }

    function test_unpause_resumesListingAndRevertsWithoutRole() public {
        vm.prank(admin);
        registry.pause();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, registry.PAUSER_ROLE()
            )
        );
        vm.prank(stranger);
        registry.unpause();
        vm.prank(admin);
        registry.unpause();
        _listDownloadable(PRICE);
        vm.assertEq(registry.datasetCount(), 1, "listing resumed");
    }

    // ------------------------------------------------------------------ views

    function test_getListing_revertsWhenUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryUnknownDataset.selector, 3));
        registry.getListing(3);
    }

    function test_datasetIdOf_isZeroWhenNeverListed() public view {
        vm.assertEq(registry.datasetIdOf(owner, HASH), 0, "none");
        vm.assertEq(registry.datasetCount(), 0, "empty");
        (uint64 atBlock, uint256 pricePaid) = registry.licenceOf(1, buyer);
        vm.assertEq(atBlock, 0, "no licence block");
        vm.assertEq(pricePaid, 0, "no licence price");
    }

    // ------------------------------------------------------------------ helpers

    function _buyDataset(address account) private {
        _fund(account, registry.getListing(1).price);
        vm.prank(account);
        registry.buyDataset(1, type(uint256).max);
    }
}
