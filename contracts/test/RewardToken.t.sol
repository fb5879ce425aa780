// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

import {RewardToken} from "../RewardToken.sol";
import {Test} from "./utils/Test.sol";

/// @notice Tests of RewardToken: metadata, owner-only minting, EIP-2612 permits.
contract RewardTokenTest is Test {
    bytes32 private constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    RewardToken private token;
    address private holder;
    uint256 private holderKey;
    address private spender;

    function setUp() public {
        token = new RewardToken(address(this));
        (holder, holderKey) = makeAddrAndKey("holder");
        spender = makeAddr("spender");
        vm.warp(1_700_000_000);
    }

    function test_constructor_setsMetadataAndOwner() public view {
        vm.assertEq(token.name(), "FedMarket Token", "name");
        vm.assertEq(token.symbol(), "FMT", "symbol");
        vm.assertEq(token.decimals(), 18, "decimals");
        vm.assertEq(token.totalSupply(), 0, "no supply");
        vm.assertEq(token.owner(), address(this), "deployer owns");
    }

    function test_constructor_revertsWhenOwnerZero() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0)));
        new RewardToken(address(0));
    }

    function test_mint_creditsRecipientAndEmitsTransfer() public {
        vm.expectEmit(true, true, true, true, address(token));
        emit IERC20.Transfer(address(0), holder, 5e18);
        token.mint(holder, 5e18);
        vm.assertEq(token.balanceOf(holder), 5e18, "balance");
        vm.assertEq(token.totalSupply(), 5e18, "supply");
    }

    function test_mint_revertsWhenCallerNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, holder));
        vm.prank(holder);
        token.mint(holder, 1);
    }

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
