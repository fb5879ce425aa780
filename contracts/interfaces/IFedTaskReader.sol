// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IFedTaskReader
 * @notice The views of FedTask that the other fedmarket contracts (ModelMarket, ChallengeCourt) rely on.
 * @dev IFedTask extends this interface; the market and the court depend on nothing else of FedTask's, so
 * either side can change its internals freely.
 */
interface IFedTaskReader {
    /**
     * @notice The account that created and funded the task (zero for an unknown task).
     * @param taskId The task's id.
     * @return sponsor The sponsor.
     */
    function sponsorOf(uint256 taskId) external view returns (address sponsor);

    /**
     * @notice Whether `account` joined the task as a participant.
     * @param taskId The task's id.
     * @param account The account.
     * @return joined True for a participant.
     */
    function isParticipant(uint256 taskId, address account) external view returns (bool joined);

    /**
     * @notice Whether the task is Completed and its last round's challenge window passed with no dispute
     * open, so that its shares can no longer change.
     * @param taskId The task's id.
     * @return final_ True once the task's outcome is final.
     */
    function isFinal(uint256 taskId) external view returns (bool final_);

    /**
     * @notice A contributor's share of the task's final model, in basis points (the shares of a completed
     * task sum to exactly 10,000).
     * @param taskId The task's id.
     * @param account The account.
     * @return bps The share; 0 for a non-contributor or a task not completed.
     */
    function shareOf(uint256 taskId, address account) external view returns (uint16 bps);
}
