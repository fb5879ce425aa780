// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ModelMarket} from "../../ModelMarket.sol";
import {RewardToken} from "../../RewardToken.sol";
import {MockFedTask} from "../mocks/MockFedTask.sol";
import {Test} from "./Test.sol";

/**
 * @title MarketFixture
 * @notice Token, model market and a mock FedTask, named accounts and helpers shared by the model market tests.
 * The test contract is the token's admin (it mints); `admin` holds the market's roles.
 */
abstract contract MarketFixture is Test {
    uint256 internal constant CAP = 1e30;
    uint16 internal constant FEE_BPS = 250;
    uint256 internal constant BPS = 10_000;
    uint256 internal constant TASK_ID = 7;
    uint256 internal constant PRICE = 100e18;
    bytes32 internal constant CARD_HASH = keccak256("model-card.json");
    string internal constant CARD_CID = "bafkreicard";

    RewardToken internal token;
    ModelMarket internal market;
    MockFedTask internal fedTask;

    address internal admin;
    address internal feeRecipient;
    address internal sponsor;
    address internal buyer;
    address internal buyer2;
    address internal alice;
    address internal bob;
    address internal carol;
    address internal stranger;

    function setUp() public virtual {
        admin = makeAddr("admin");
        feeRecipient = makeAddr("feeRecipient");
        sponsor = makeAddr("sponsor");
        buyer = makeAddr("buyer");
        buyer2 = makeAddr("buyer2");
        alice = makeAddr("alice");
        bob = makeAddr("bob");
        carol = makeAddr("carol");
        stranger = makeAddr("stranger");
        vm.warp(1_700_000_000);

        token = new RewardToken(address(this), CAP);
        fedTask = new MockFedTask();
        market = new ModelMarket(token, fedTask, admin, feeRecipient, FEE_BPS);
    }

    // ------------------------------------------------------------------ funding

    /// @dev Mints `amount` to `account` and lets the market pull up to it.
    function _fund(address account, uint256 amount) internal {
        token.mint(account, amount);
        vm.prank(account);
        token.approve(address(market), amount);
    }

    /// @dev Makes TASK_ID final with sponsor `sponsor` and alice/bob/carol holding 5,000/3,000/2,000 bps.
    function _completeTask() internal {
        address[] memory accounts = new address[](3);
        (accounts[0], accounts[1], accounts[2]) = (alice, bob, carol);
        uint16[] memory bps = new uint16[](3);
        (bps[0], bps[1], bps[2]) = (5_000, 3_000, 2_000);
        fedTask.setCompleted(TASK_ID, sponsor, accounts, bps);
    }

    /// @dev Completes TASK_ID and lists its model at `price` with a `sponsorBps` cut.
    function _listModel(uint256 price, uint16 sponsorBps) internal returns (uint256 modelId) {
        _completeTask();
        vm.prank(sponsor);
        modelId = market.listModel(TASK_ID, price, sponsorBps, CARD_CID, CARD_HASH);
    }

    /// @dev Funds `account` with exactly the model's price and buys it.
    function _buyModel(uint256 modelId, address account) internal {
        _fund(account, market.getModel(modelId).price);
        vm.prank(account);
        market.buy(modelId, type(uint256).max);
    }
}
