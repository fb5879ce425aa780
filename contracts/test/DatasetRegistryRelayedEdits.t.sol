// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {IDatasetRegistry} from "../interfaces/IDatasetRegistry.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";
import {Vm} from "./utils/Vm.sol";

/**
 * @notice Tests of DatasetRegistry's relayed edits: {updateListingFor} and {setListingActiveFor} act only on the
 * listing owner's EIP-712 signature, once (the owner's nonces are shared with `ListDataset`, so no signature
 * passes as another kind or twice), before the deadline, under the owner-sent versions' pause rules, and emit
 * exactly the logs the owner-sent versions emit (the indexer reads those).
 */
contract DatasetRegistryRelayedEditsTest is RegistryFixture {
    IDatasetRegistry.AccessMode private constant FEDERATED = IDatasetRegistry.AccessMode.FederatedOnly;
    IDatasetRegistry.AccessMode private constant DOWNLOADABLE = IDatasetRegistry.AccessMode.Downloadable;
    uint256 private constant SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    uint256 private deadline;

    function setUp() public override {
        super.setUp();
        deadline = block.timestamp + 1 hours;
        _listDownloadable(PRICE);
    }

    // ------------------------------------------------------------------ type hashes

    function test_typeHashes_matchTheSpecifiedMessages() public view {
        vm.assertEq(registry.UPDATE_LISTING_TYPEHASH(), UPDATE_TYPEHASH, "UpdateListing");
        vm.assertEq(registry.SET_LISTING_ACTIVE_TYPEHASH(), SET_ACTIVE_TYPEHASH, "SetListingActive");
    }

    // ------------------------------------------------------------------ updateListingFor

    function test_updateListingFor_changesModeAndPriceForTheSigningOwnerAndEmits() public {
        bytes memory signature = _signUpdate(ownerKey, 1, DOWNLOADABLE, 7e18, 0, deadline);

        vm.expectEmit(true, true, true, true, address(registry));
        emit IDatasetRegistry.ListingUpdated(1, DOWNLOADABLE, 7e18);
        vm.prank(relayer);
        registry.updateListingFor(1, DOWNLOADABLE, 7e18, deadline, signature);

        IDatasetRegistry.Listing memory listing = registry.getListing(1);
        vm.assertEq(listing.owner, owner, "still the owner's");
        vm.assertEq(listing.price, 7e18, "signed price");
        vm.assertEq(uint256(listing.accessMode), uint256(DOWNLOADABLE), "signed mode");
        vm.assertTrue(listing.active, "activity untouched");
        vm.assertEq(registry.nonces(owner), 1, "nonce consumed");
    }

    function test_updateListingFor_emitsTheSameLogAsUpdateListing() public {
        vm.recordLogs();
        vm.prank(owner);
        registry.updateListing(1, FEDERATED, 0);
        Vm.Log[] memory direct = vm.getRecordedLogs();

        bytes memory signature = _signUpdate(ownerKey, 1, FEDERATED, 0, 0, deadline);
        vm.recordLogs();
        vm.prank(relayer);
        registry.updateListingFor(1, FEDERATED, 0, deadline, signature);
        Vm.Log[] memory relayed = vm.getRecordedLogs();

        _assertSameLogs(direct, relayed);
    }

    function test_updateListingFor_acceptsSignatureAtDeadline() public {
        bytes memory signature = _signUpdate(ownerKey, 1, FEDERATED, 0, 0, block.timestamp);
        vm.prank(relayer);
        registry.updateListingFor(1, FEDERATED, 0, block.timestamp, signature);
        vm.assertEq(uint256(registry.getListing(1).accessMode), uint256(FEDERATED), "updated");
    }

    function test_updateListingFor_revertsWhenExpired() public {
        bytes memory signature = _signUpdate(ownerKey, 1, FEDERATED, 0, 0, deadline);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryExpiredSignature.selector, deadline));
        vm.prank(relayer);
        registry.updateListingFor(1, FEDERATED, 0, deadline, signature);
    }

    /// @notice Attack: another account (here a listing holder too) signs an edit of the owner's listing.
    function test_updateListingFor_revertsWhenSignedByAnotherKey() public {
        bytes memory signature = _signUpdate(otherKey, 1, DOWNLOADABLE, 1, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, other, owner));
        vm.prank(other);
        registry.updateListingFor(1, DOWNLOADABLE, 1, deadline, signature);
        vm.assertEq(registry.getListing(1).price, PRICE, "price unchanged");
    }

    /// @notice Attack: a relayer replays an owner's edit after the owner changed the price back.
    function test_updateListingFor_revertsWhenSignatureReplayed() public {
        bytes memory signature = _signUpdate(ownerKey, 1, DOWNLOADABLE, 1, 0, deadline);
        vm.prank(relayer);
        registry.updateListingFor(1, DOWNLOADABLE, 1, deadline, signature);
        vm.prank(owner);
        registry.updateListing(1, DOWNLOADABLE, PRICE);

        address recovered = _recover(_updateDigest(1, DOWNLOADABLE, 1, 1, deadline), signature);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, recovered, owner));
        vm.prank(relayer);
        registry.updateListingFor(1, DOWNLOADABLE, 1, deadline, signature);
        vm.assertEq(registry.getListing(1).price, PRICE, "the owner's later price stays");
    }

    function test_updateListingFor_revertsWhenNonceCancelled() public {
        bytes memory signature = _signUpdate(ownerKey, 1, DOWNLOADABLE, 1, 0, deadline);
        vm.prank(owner);
        registry.useNonce();
        address recovered = _recover(_updateDigest(1, DOWNLOADABLE, 1, 1, deadline), signature);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, recovered, owner));
        vm.prank(relayer);
        registry.updateListingFor(1, DOWNLOADABLE, 1, deadline, signature);
    }

    /// @notice Attack: a relayer lowers the signed price.
    function test_updateListingFor_revertsWhenPriceTampered() public {
        bytes memory signature = _signUpdate(ownerKey, 1, DOWNLOADABLE, 7e18, 0, deadline);
        address recovered = _recover(_updateDigest(1, DOWNLOADABLE, 1, 0, deadline), signature);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, recovered, owner));
        vm.prank(relayer);
        registry.updateListingFor(1, DOWNLOADABLE, 1, deadline, signature);
    }

    /// @notice Attack: an edit signed for one of the owner's listings is applied to another.
    function test_updateListingFor_revertsWhenSignedForAnotherDataset() public {
        vm.prank(owner);
        registry.listDataset(keccak256("second"), "bafkreisecond", DOWNLOADABLE, PRICE);
        bytes memory signature = _signUpdate(ownerKey, 1, DOWNLOADABLE, 1, 0, deadline);
        address recovered = _recover(_updateDigest(2, DOWNLOADABLE, 1, 0, deadline), signature);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, recovered, owner));
        vm.prank(relayer);
        registry.updateListingFor(2, DOWNLOADABLE, 1, deadline, signature);
    }

    function test_updateListingFor_revertsWhenUnknown() public {
        bytes memory signature = _signUpdate(ownerKey, 2, FEDERATED, 0, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryUnknownDataset.selector, 2));
        vm.prank(relayer);
        registry.updateListingFor(2, FEDERATED, 0, deadline, signature);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryUnknownDataset.selector, 0));
        vm.prank(relayer);
        registry.updateListingFor(0, FEDERATED, 0, deadline, signature);
    }

    function test_updateListingFor_revertsWhenFederatedOnlyHasPrice() public {
        bytes memory signature = _signUpdate(ownerKey, 1, FEDERATED, 9, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidPrice.selector, FEDERATED, 9));
        vm.prank(relayer);
        registry.updateListingFor(1, FEDERATED, 9, deadline, signature);
        vm.assertEq(registry.nonces(owner), 0, "a reverted edit spends no nonce");
    }

    function test_updateListingFor_revertsWhenSignatureMalformed() public {
        bytes memory signature = _signUpdate(ownerKey, 1, FEDERATED, 0, 0, deadline);
        bytes memory truncated = new bytes(64);
        for (uint256 i = 0; i < 64; ++i) {
            truncated[i] = signature[i];
        }
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, address(0), owner));
        vm.prank(relayer);
        registry.updateListingFor(1, FEDERATED, 0, deadline, truncated);
    }

    function test_updateListingFor_worksWhileDelistedAndPaused() public {
        vm.prank(owner);
        registry.delistDataset(1);
        vm.prank(admin);
        registry.pause();
        bytes memory signature = _signUpdate(ownerKey, 1, FEDERATED, 0, 0, deadline);
        vm.prank(relayer);
        registry.updateListingFor(1, FEDERATED, 0, deadline, signature);
        vm.assertEq(uint256(registry.getListing(1).accessMode), uint256(FEDERATED), "updated");
        vm.assertFalse(registry.getListing(1).active, "still delisted");
    }

    function testFuzz_updateListingFor_acceptsAnyOwnerKey(uint256 key, bool downloadable, uint256 price) public {
        key = bound(key, 1, SECP256K1_ORDER - 1);
        address signer = vm.addr(key);
        IDatasetRegistry.AccessMode mode = downloadable ? DOWNLOADABLE : FEDERATED;
        price = downloadable ? price : 0;
        vm.prank(signer);
        uint256 datasetId = registry.listDataset(keccak256("fuzzed"), CID, FEDERATED, 0);
        bytes memory signature = _signUpdate(key, datasetId, mode, price, 0, deadline);

        vm.prank(relayer);
        registry.updateListingFor(datasetId, mode, price, deadline, signature);

        IDatasetRegistry.Listing memory listing = registry.getListing(datasetId);
        vm.assertEq(uint256(listing.accessMode), uint256(mode), "mode");
        vm.assertEq(listing.price, price, "price");
        vm.assertEq(registry.nonces(signer), 1, "nonce");
    }

    function testFuzz_updateListingFor_rejectsAnyOtherKey(uint256 key, uint256 price) public {
        key = bound(key, 1, SECP256K1_ORDER - 1);
        vm.assume(key != ownerKey);
        bytes memory signature = _signUpdate(key, 1, DOWNLOADABLE, price, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, vm.addr(key), owner));
        vm.prank(relayer);
        registry.updateListingFor(1, DOWNLOADABLE, price, deadline, signature);
    }

    // ------------------------------------------------------------------ setListingActiveFor

    function test_setListingActiveFor_delistsForTheSigningOwnerAndEmits() public {
        bytes memory signature = _signSetActive(ownerKey, 1, false, 0, deadline);

        vm.expectEmit(true, true, true, true, address(registry));
        emit IDatasetRegistry.DatasetDelisted(1, owner);
        vm.prank(relayer);
        registry.setListingActiveFor(1, false, deadline, signature);

        vm.assertFalse(registry.getListing(1).active, "delisted");
        vm.assertEq(registry.nonces(owner), 1, "nonce consumed");
    }

    function test_setListingActiveFor_relistsForTheSigningOwnerAndEmits() public {
        vm.prank(owner);
        registry.delistDataset(1);
        bytes memory signature = _signSetActive(ownerKey, 1, true, 0, deadline);

        vm.expectEmit(true, true, true, true, address(registry));
        emit IDatasetRegistry.DatasetRelisted(1, owner);
        vm.prank(relayer);
        registry.setListingActiveFor(1, true, deadline, signature);

        vm.assertTrue(registry.getListing(1).active, "relisted");
        vm.assertEq(registry.nonces(owner), 1, "nonce consumed");
    }

    function test_setListingActiveFor_emitsTheSameLogsAsDelistAndRelist() public {
        vm.recordLogs();
        vm.startPrank(owner);
        registry.delistDataset(1);
        registry.relistDataset(1);
        vm.stopPrank();
        Vm.Log[] memory direct = vm.getRecordedLogs();

        bytes memory delist = _signSetActive(ownerKey, 1, false, 0, deadline);
        bytes memory relist = _signSetActive(ownerKey, 1, true, 1, deadline);
        vm.recordLogs();
        vm.startPrank(relayer);
        registry.setListingActiveFor(1, false, deadline, delist);
        registry.setListingActiveFor(1, true, deadline, relist);
        vm.stopPrank();
        Vm.Log[] memory relayed = vm.getRecordedLogs();

        _assertSameLogs(direct, relayed);
    }

    function test_setListingActiveFor_revertsWhenAlreadyDelisted() public {
        vm.prank(owner);
        registry.delistDataset(1);
        bytes memory signature = _signSetActive(ownerKey, 1, false, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryAlreadyDelisted.selector, 1));
        vm.prank(relayer);
        registry.setListingActiveFor(1, false, deadline, signature);
    }

    function test_setListingActiveFor_revertsWhenRelistingAnActiveListing() public {
        bytes memory signature = _signSetActive(ownerKey, 1, true, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryNotDelisted.selector, 1));
        vm.prank(relayer);
        registry.setListingActiveFor(1, true, deadline, signature);
    }

    function test_setListingActiveFor_revertsWhenExpired() public {
        bytes memory signature = _signSetActive(ownerKey, 1, false, 0, deadline);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryExpiredSignature.selector, deadline));
        vm.prank(relayer);
        registry.setListingActiveFor(1, false, deadline, signature);
    }

    /// @notice Attack: a stranger delists someone else's listing with its own signature.
    function test_setListingActiveFor_revertsWhenSignedByAnotherKey() public {
        bytes memory signature = _signSetActive(otherKey, 1, false, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, other, owner));
        vm.prank(relayer);
        registry.setListingActiveFor(1, false, deadline, signature);
        vm.assertTrue(registry.getListing(1).active, "still listed");
    }

    /// @notice Attack: a relayer replays the owner's delisting after the owner relisted.
    function test_setListingActiveFor_revertsWhenSignatureReplayed() public {
        bytes memory signature = _signSetActive(ownerKey, 1, false, 0, deadline);
        vm.prank(relayer);
        registry.setListingActiveFor(1, false, deadline, signature);
        vm.prank(owner);
        registry.relistDataset(1);

        address recovered = _recover(_setActiveDigest(1, false, 1, deadline), signature);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, recovered, owner));
        vm.prank(relayer);
        registry.setListingActiveFor(1, false, deadline, signature);
        vm.assertTrue(registry.getListing(1).active, "the owner's relisting stays");
    }

    /// @notice Attack: a relayer turns the owner's delisting into a relisting (or back).
    function test_setListingActiveFor_revertsWhenActiveFlipped() public {
        vm.prank(owner);
        registry.delistDataset(1);
        bytes memory signature = _signSetActive(ownerKey, 1, false, 0, deadline);
        address recovered = _recover(_setActiveDigest(1, true, 0, deadline), signature);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, recovered, owner));
        vm.prank(relayer);
        registry.setListingActiveFor(1, true, deadline, signature);
    }

    function test_setListingActiveFor_revertsWhenUnknown() public {
        bytes memory signature = _signSetActive(ownerKey, 5, false, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryUnknownDataset.selector, 5));
        vm.prank(relayer);
        registry.setListingActiveFor(5, false, deadline, signature);
    }

    function test_setListingActiveFor_revertsWhenSignatureMalformed() public {
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, address(0), owner));
        vm.prank(relayer);
        registry.setListingActiveFor(1, false, deadline, hex"0badc0de");
    }

    function test_setListingActiveFor_delistsWhilePaused() public {
        vm.prank(admin);
        registry.pause();
        bytes memory signature = _signSetActive(ownerKey, 1, false, 0, deadline);
        vm.prank(relayer);
        registry.setListingActiveFor(1, false, deadline, signature);
        vm.assertFalse(registry.getListing(1).active, "delisted while paused");
    }

    function test_setListingActiveFor_revertsWhenRelistingWhilePaused() public {
        vm.prank(owner);
        registry.delistDataset(1);
        vm.prank(admin);
        registry.pause();
        bytes memory signature = _signSetActive(ownerKey, 1, true, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        vm.prank(relayer);
        registry.setListingActiveFor(1, true, deadline, signature);
        vm.assertEq(registry.nonces(owner), 0, "the signature stays usable after the pause");

        vm.prank(admin);
        registry.unpause();
        vm.prank(relayer);
        registry.setListingActiveFor(1, true, deadline, signature);
        vm.assertTrue(registry.getListing(1).active, "relisted after the pause");
    }

    // ------------------------------------------------------------------ one nonce, three kinds

    /// @notice Attack: a ListDataset signature (same owner, same nonce) is relayed as an edit or a delisting.
    function test_listDatasetSignature_passesAsNoOtherKind() public {
        bytes memory listing = _sign(ownerKey, owner, keccak256("b"), "bafkreib", DOWNLOADABLE, 1, 0, deadline);

        address asUpdate = _recover(_updateDigest(1, DOWNLOADABLE, 1, 0, deadline), listing);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, asUpdate, owner));
        vm.prank(relayer);
        registry.updateListingFor(1, DOWNLOADABLE, 1, deadline, listing);

        address asDelist = _recover(_setActiveDigest(1, false, 0, deadline), listing);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, asDelist, owner));
        vm.prank(relayer);
        registry.setListingActiveFor(1, false, deadline, listing);
    }

    /// @notice Attack: an UpdateListing signature is relayed as a listing or a delisting, and back.
    function test_updateAndSetActiveSignatures_passAsNoOtherKind() public {
        bytes memory update = _signUpdate(ownerKey, 1, FEDERATED, 0, 0, deadline);
        address asDelist = _recover(_setActiveDigest(1, false, 0, deadline), update);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, asDelist, owner));
        vm.prank(relayer);
        registry.setListingActiveFor(1, false, deadline, update);

        address asListing = _recover(_digest(owner, keccak256("b"), "bafkreib", FEDERATED, 0, 0, deadline), update);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, asListing, owner));
        vm.prank(relayer);
        registry.listDatasetFor(owner, keccak256("b"), "bafkreib", FEDERATED, 0, deadline, update);

        bytes memory delist = _signSetActive(ownerKey, 1, false, 0, deadline);
        address asUpdate = _recover(_updateDigest(1, FEDERATED, 0, 0, deadline), delist);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, asUpdate, owner));
        vm.prank(relayer);
        registry.updateListingFor(1, FEDERATED, 0, deadline, delist);
        vm.assertEq(registry.nonces(owner), 0, "nothing relayed");
    }

    /// @notice Signatures of different kinds made for the same nonce: relaying one cancels the others.
    function test_signaturesOfAllKinds_shareTheOwnersNonce() public {
        bytes memory listing = _sign(ownerKey, owner, keccak256("b"), "bafkreib", FEDERATED, 0, 0, deadline);
        bytes memory update = _signUpdate(ownerKey, 1, FEDERATED, 0, 0, deadline);
        bytes memory delist = _signSetActive(ownerKey, 1, false, 0, deadline);

        vm.prank(relayer);
        registry.listDatasetFor(owner, keccak256("b"), "bafkreib", FEDERATED, 0, deadline, listing);

        address staleUpdate = _recover(_updateDigest(1, FEDERATED, 0, 1, deadline), update);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, staleUpdate, owner));
        vm.prank(relayer);
        registry.updateListingFor(1, FEDERATED, 0, deadline, update);

        address staleDelist = _recover(_setActiveDigest(1, false, 1, deadline), delist);
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, staleDelist, owner));
        vm.prank(relayer);
        registry.setListingActiveFor(1, false, deadline, delist);
        vm.assertEq(registry.nonces(owner), 1, "one nonce spent");
    }

    function testFuzz_updateSignature_neverPassesAsSetActive(bool downloadable, uint256 price, bool active) public {
        IDatasetRegistry.AccessMode mode = downloadable ? DOWNLOADABLE : FEDERATED;
        bytes memory update = _signUpdate(ownerKey, 1, mode, price, 0, deadline);
        if (active) {
            vm.prank(owner);
            registry.delistDataset(1);
        }
        address recovered = _recover(_setActiveDigest(1, active, 0, deadline), update);
        vm.assertTrue(recovered != owner, "a different digest");
        vm.expectRevert(abi.encodeWithSelector(IDatasetRegistry.RegistryInvalidSigner.selector, recovered, owner));
        vm.prank(relayer);
        registry.setListingActiveFor(1, active, deadline, update);
    }

    // ------------------------------------------------------------------ helpers

    /// @dev Asserts two recorded log lists are equal: emitter, topics and data.
    function _assertSameLogs(Vm.Log[] memory expected, Vm.Log[] memory actual) private pure {
        vm.assertEq(actual.length, expected.length, "log count");
        for (uint256 i = 0; i < expected.length; ++i) {
            vm.assertEq(actual[i].emitter, expected[i].emitter, "emitter");
            vm.assertEq(actual[i].topics.length, expected[i].topics.length, "topic count");
            for (uint256 t = 0; t < expected[i].topics.length; ++t) {
                vm.assertEq(actual[i].topics[t], expected[i].topics[t], "topic");
            }
            vm.assertEq(actual[i].data, expected[i].data, "data");
        }
    }
}
