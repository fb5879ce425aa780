// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

import {RewardToken} from "../RewardToken.sol";
import {IRewardToken} from "../interfaces/IRewardToken.sol";
import {Test} from "./utils/Test.sol";

/// @notice Tests of RewardToken: metadata, roles, minting under the cap, EIP-2612 permits.
contract RewardTokenTest is Test {
    bytes32 private constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
    uint256 private constant CAP = 1_000_000e18;

    RewardToken private token;
    address private admin;
    address private holder;
    uint256 private holderKey;
    address private spender;
    address private minter;

    function setUp() public {
        admin = makeAddr("admin");
        token = new RewardToken(admin, CAP);
        (holder, holderKey) = makeAddrAndKey("holder");
        spender = makeAddr("spender");
        minter = makeAddr("minter");
        vm.warp(1_700_000_000);
    }

    // ------------------------------------------------------------------ constructor

    function test_constructor_setsMetadataCapAndRoles() public view {
        vm.assertEq(token.name(), "FedMarket Token", "name");
        vm.assertEq(token.symbol(), "FMT", "symbol");
        vm.assertEq(token.decimals(), 18, "decimals");
        vm.assertEq(token.totalSupply(), 0, "no supply");
        vm.assertEq(token.cap(), CAP, "cap");
        vm.assertEq(token.MINTER_ROLE(), keccak256("MINTER_ROLE"), "minter role id");
        vm.assertTrue(token.hasRole(token.DEFAULT_ADMIN_ROLE(), admin), "admin is admin");
        vm.assertTrue(token.hasRole(token.MINTER_ROLE(), admin), "admin is minter");
        vm.assertEq(token.getRoleAdmin(token.MINTER_ROLE()), token.DEFAULT_ADMIN_ROLE(), "admin grants minters");
        vm.assertFalse(token.hasRole(token.MINTER_ROLE(), address(this)), "the deployer gets nothing");
    }

    function test_constructor_revertsWhenAdminZero() public {
        vm.expectRevert(abi.encodeWithSelector(IRewardToken.TokenInvalidAdmin.selector, address(0)));
        new RewardToken(address(0), CAP);
    }

    function test_constructor_revertsWhenCapZero() public {
        vm.expectRevert(abi.encodeWithSelector(ERC20Capped.ERC20InvalidCap.selector, 0));
        new RewardToken(admin, 0);
    }

    function test_supportsInterface_reportsAccessControl() public view {
        vm.assertTrue(token.supportsInterface(type(IAccessControl).interfaceId), "IAccessControl");
    }

    // ------------------------------------------------------------------ mint

    function test_mint_creditsRecipientAndEmitsTransfer() public {
        vm.expectEmit(true, true, true, true, address(token));
        emit IERC20.Transfer(address(0), holder, 5e18);
        vm.prank(admin);
        token.mint(holder, 5e18);
        vm.assertEq(token.balanceOf(holder), 5e18, "balance");
        vm.assertEq(token.totalSupply(), 5e18, "supply");
    }

    function test_mint_reachesTheCapExactly() public {
        vm.startPrank(admin);
        token.mint(holder, CAP - 1);
        token.mint(spender, 1);
        vm.stopPrank();
        vm.assertEq(token.totalSupply(), CAP, "supply == cap");
    }

    function test_mint_revertsAboveCap() public {
        vm.startPrank(admin);
        token.mint(holder, CAP - 1);
        vm.expectRevert(abi.encodeWithSelector(ERC20Capped.ERC20ExceededCap.selector, CAP + 1, CAP));
        token.mint(holder, 2);
        vm.stopPrank();
        vm.assertEq(token.totalSupply(), CAP - 1, "supply unchanged");
    }

    function test_mint_revertsWhenCallerLacksMinterRole() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, holder, token.MINTER_ROLE())
        );
        vm.prank(holder);
        token.mint(holder, 1);
    }

    function test_mint_allowedForGrantedMinterUntilRevoked() public {
        bytes32 role = token.MINTER_ROLE();
        vm.prank(admin);
        token.grantRole(role, minter);
        vm.prank(minter);
        token.mint(holder, 3);
        vm.assertEq(token.balanceOf(holder), 3, "granted minter mints");

        vm.prank(admin);
        token.revokeRole(role, minter);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, minter, role));
        vm.prank(minter);
        token.mint(holder, 3);
    }

    function test_grantRole_revertsWhenCallerNotAdmin() public {
        bytes32 role = token.MINTER_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, minter, token.DEFAULT_ADMIN_ROLE()
            )
        );
        vm.prank(minter);
        token.grantRole(role, minter);
    }

    function testFuzz_mint_supplyNeverExceedsCap(uint256 first, uint256 second) public {
        first = bound(first, 0, CAP);
        second = bound(second, 0, CAP);
        vm.startPrank(admin);
        token.mint(holder, first);
        if (first + second > CAP) {
            vm.expectRevert(abi.encodeWithSelector(ERC20Capped.ERC20ExceededCap.selector, first + second, CAP));
        }
        token.mint(spender, second);
        vm.stopPrank();
        uint256 expected = first + second > CAP ? first : first + second;
        vm.assertEq(token.totalSupply(), expected, "supply == reference");
        vm.assertLe(token.totalSupply(), CAP, "supply <= cap");
    }

    function testFuzz_transfer_leavesSupplyUnchanged(uint256 minted, uint256 moved) public {
        minted = bound(minted, 1, CAP);
        moved = bound(moved, 0, minted);
        vm.prank(admin);
        token.mint(holder, minted);
        vm.prank(holder);
        token.transfer(spender, moved);
        vm.assertEq(token.totalSupply(), minted, "supply unchanged");
        vm.assertEq(token.balanceOf(holder) + token.balanceOf(spender), minted, "balances sum to the supply");
    }

    // ------------------------------------------------------------------ permit

    function test_permit_setsAllowanceFromOwnerSignature() public {
        uint256 deadline = block.timestamp + 1 days;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(holderKey, _permitDigest(holder, spender, 7e18, 0, deadline));
        token.permit(holder, spender, 7e18, deadline, v, r, s);
        vm.assertEq(token.allowance(holder, spender), 7e18, "allowance");
        vm.assertEq(token.nonces(holder), 1, "nonce");
    }

    function test_permit_revertsWhenExpired() public {
        uint256 deadline = block.timestamp - 1;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(holderKey, _permitDigest(holder, spender, 1, 0, deadline));
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612ExpiredSignature.selector, deadline));
        token.permit(holder, spender, 1, deadline, v, r, s);
    }

    function _permitDigest(address owner, address to, uint256 value, uint256 nonce, uint256 deadline)
        private
        view
        returns (bytes32)
    {
        bytes32 domainSeparator = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("FedMarket Token"),
                keccak256("1"),
                block.chainid,
                address(token)
            )
        );
        vm.assertEq(token.DOMAIN_SEPARATOR(), domainSeparator, "permit domain");
        bytes32 structHash = keccak256(abi.encode(PERMIT_TYPEHASH, owner, to, value, nonce, deadline));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator, structHash));
    }
}
