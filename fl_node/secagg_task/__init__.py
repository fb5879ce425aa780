"""Secure aggregation inside a task: the coordinator learns group sums, never one update.

A task whose spec says ``aggregation: "secagg"`` (:class:`~fl_node.secagg.SecAggParams`: group
size ``g >= 3``, dropout tolerance, clip range, sample cap) runs each round as follows.

1. The round's participants are split into public groups of at least ``g``
   (:func:`.groups.partition`, seeded by the task's seed and the round's opening model).
2. Each member encodes ``[clip(d) * n / N, clip * n / N]`` (:mod:`.encoding`; under distributed
   DP its clipped update plus its share of the noise, weighing ``N``: :mod:`.noise`) and runs
   SecAgg(+) (:mod:`fl_node.secagg`) with its group through a :class:`.board.MessageBoard`; it
   commits to keccak-256 of its masked input (:func:`.transcript.masked_commitment`).
3. The coordinator learns per group the sum of its survivors' weighted updates and their total
   sample count (:class:`.round.GroupSum`), and keeps the group's transcript; anyone replays it
   (:func:`.transcript.replay`) to the same sum without learning a member's update.
4. Contributions are measured over groups and split among each group's survivors
   (:mod:`.contributions`); :class:`.runner.SecAggTask` runs the whole task in-process.

Through FedTask, :class:`.coordinator.SecAggCoordinator` and :class:`.participant.SecAggParticipant`
run the same rounds on the chain: each member commits to keccak-256 of its masked input (with its
CID) and reveals it at the reveal start, the coordinator keeps only inputs matching their
commitments, and the round evidence carries every group's transcript for the audit. (Import them
from their modules: they pull in the coordinator and participant machinery.)
"""

from fl_node.secagg_task.board import EVERYONE, SERVER, MemoryBoard, MessageBoard, Posted, Topic
from fl_node.secagg_task.contributions import member_contributions, survived
from fl_node.secagg_task.encoding import DecodedSum, decode_group, member_values
from fl_node.secagg_task.errors import GroupingError, GroupSumError, SecAggTaskError
from fl_node.secagg_task.groups import group_seed, partition
from fl_node.secagg_task.noise import encode_member, member_dp, train_config
from fl_node.secagg_task.round import (
    GroupMember,
    GroupServer,
    GroupSum,
    MemberInput,
    RoundPlace,
    SecureRound,
    run_secure_round,
)
from fl_node.secagg_task.transcript import (
    GroupTranscript,
    Message,
    group_config,
    masked_commitment,
    replay,
)

__all__ = [
    "EVERYONE",
    "SERVER",
    "DecodedSum",
    "GroupMember",
    "GroupServer",
    "GroupSum",
    "GroupSumError",
    "GroupTranscript",
    "GroupingError",
    "MemberInput",
    "MemoryBoard",
    "Message",
    "MessageBoard",
    "Posted",
    "RoundPlace",
    "SecAggTaskError",
    "SecureRound",
    "Topic",
    "decode_group",
    "encode_member",
    "group_config",
    "group_seed",
    "masked_commitment",
    "member_contributions",
    "member_dp",
    "member_values",
    "partition",
    "replay",
    "run_secure_round",
    "survived",
    "train_config",
]
