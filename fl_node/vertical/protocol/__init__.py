"""Hetero (vertical) logistic regression: a guest, N hosts and an arbiter over Paillier.

FATE's coordinated LR pattern. The **guest** holds the labels ``y`` and features ``X_g``
(plus the intercept), each of ``N >= 1`` **hosts** holds features ``X_h`` of the same aligned
rows, and the **arbiter** (coordinator) holds the Paillier private key. The hosts are named
(``"host"`` alone, else ``"host-1"`` ... ``"host-N"``, :func:`host_names`); the guest and the
arbiter get the list, whose order is agreed. The logistic loss is replaced by its
second-order Taylor expansion at 0, ``log(1 + e^{-y'z}) ~ log 2 - y'z/2 + z^2/8`` with
``y' = 2y - 1`` and ``z = z_g + sum_h z_h``, whose gradient is ``d_i x_i`` with the residual
``d_i = z_i/4 + 1/2 - y_i``: linear in the score, hence computable on ciphertexts. Per
mini-batch ``B`` (rows chosen by the guest's epoch plan), with ``Z = sum_h z_h``:

1. each host h: ``z_h = X_h w_h``; sends ``[[z_h/4]]`` and ``[[q_h]]``,
   ``q_h = sum z_h^2 / 8 + (alpha B / 2) |w_h|^2`` (one ciphertext, for the loss).
2. guest: ``v = z_g/4 + 1/2 - y`` encrypted with fresh randomness (done while waiting);
   ``[[Z/4]] = sum_h [[z_h/4]]`` and ``[[d]] = [[Z/4]] + [[v]]``, sent to every host. The
   fresh ``[[v]]`` re-randomises the hosts' ciphertexts: without it a host could divide out
   its own ciphertext and read ``v``, i.e. the labels. Host ``k`` (the k-th with features,
   ``k >= 2``) also gets ``[[S_k]] = sum_{j<k} [[z_j/4]]`` and returns the cross term
   ``[[c_k]] = sum_i z_k,i [[S_k]]_i`` (one ciphertext): ``sum_k c_k = sum_{j<k} z_j.z_k / 4``,
   the part of ``Z^2/8`` no single party can compute (FATE 1.x reports no loss with more
   than one host instead).
3. every party: ``[[G]] = X^T [[d]]`` (bucket multi-exponentiation); add uniform masks
   ``r`` of ``bound + 40`` bits; the guest appends the unmasked loss
   ``[[L_B]] = sum_i (z_g - 2y')_i [[Z/4]]_i + sum_h [[q_h]] + sum_k [[c_k]]
   + sum_i (log 2 - y'z_g/2 + z_g^2/8) + (alpha B / 2)|w_g|^2``; each packs and sends to the
   arbiter.
4. arbiter: decrypts, returns ``G + r`` to each party; records ``L_B / B``.
5. each party: ``g = (G + r - r) / B + alpha w``; ``w <- w - lr_e g`` with
   ``lr_e = lr / (1 + decay * epoch)`` (no L2 on the intercept).

The messages the guest and the arbiter gather from the hosts name their sender; a
:class:`HostRoster` refuses a party not in the list, a name other than the channel's and a
second message where one is due (:class:`PeerMessageError` naming the party). A party
"without features" (``use_features=False``) has zero columns: a host without features
sends nothing per batch, so any subset of the ``N + 1`` feature groups trains by the same
protocol (feature-group Shapley). With ``N = 1`` this is the two-party protocol unchanged.

After each epoch the arbiter averages the batch losses, declares convergence when the
change is below ``tol`` (or stops at ``max_epochs``) and tells every party; the guest also
gets the loss. Each party keeps its own weights (the model is split). Prediction: the guest
asks the host for its partial scores ``z_h`` of validation / test rows only (the host
refuses training rows) and alone computes ``sigmoid(z_g + z_h)``.

What each role sees is listed in ``docs/vfl.md`` and checked by the tests. Modules:

``messages``
    The wire messages (PSI steps, split, training, prediction) and their :data:`CODEC`.
``suites``
    The cipher back ends (:class:`OursSuite`, :class:`PheSuite`) behind :class:`CipherSuite`.
``config``, ``models``
    :class:`HeteroLRConfig`, the batch :func:`schedule`; the split model parts.
``hosts``
    :class:`HostRoster` (the hosts as the guest and the arbiter check them), :func:`host_names`.
``guest``, ``host``, ``arbiter``, ``session``
    The three roles (message in, message out), each a :class:`SessionRole` that the one loop
    :func:`run_session` drives over a :class:`~fl_node.vertical.transport.Transport`, the same
    code in one process (threads, tests) and across processes (TLS).
``alignment``, ``predict``, ``reference``
    PSI and split over a transport; federated prediction; the plaintext reference
    (:func:`multihost_reference`, one weight vector on the concatenated features).
"""

from fl_node.vertical.protocol._errors import (
    CipherSuiteError,
    CipherUsageError,
    HeteroLRConfigError,
    HeteroLRError,
    PeerMessageError,
)
from fl_node.vertical.protocol.alignment import (
    PsiExchange,
    psi_as_guest,
    psi_as_host,
    receive_split,
    send_split,
)
from fl_node.vertical.protocol.arbiter import HeteroLRArbiter
from fl_node.vertical.protocol.config import (
    CipherName,
    HeteroLRConfig,
    epoch_order,
    last_in_epoch,
    schedule,
)
from fl_node.vertical.protocol.guest import HeteroLRGuest
from fl_node.vertical.protocol.host import HeteroLRHost
from fl_node.vertical.protocol.hosts import HostRoster, host_names
from fl_node.vertical.protocol.messages import CODEC, PROTOCOL_VERSION, TYPE_NAMES, MsgType
from fl_node.vertical.protocol.models import GuestModel, HostModel, sigmoid
from fl_node.vertical.protocol.predict import guest_predict, host_answer_predict
from fl_node.vertical.protocol.reference import (
    ReferenceFit,
    multihost_reference,
    taylor_lr_reference,
)
from fl_node.vertical.protocol.session import (
    EpochEnd,
    SessionPlan,
    SessionResult,
    SessionRole,
    run_session,
)
from fl_node.vertical.protocol.suites import (
    CipherSuite,
    Decrypted,
    MaskState,
    OursSuite,
    PheSuite,
    suite_class,
    unmask,
)

__all__ = [
    "CODEC",
    "PROTOCOL_VERSION",
    "TYPE_NAMES",
    "CipherName",
    "CipherSuite",
    "CipherSuiteError",
    "CipherUsageError",
    "Decrypted",
    "EpochEnd",
    "GuestModel",
    "HeteroLRArbiter",
    "HeteroLRConfig",
    "HeteroLRConfigError",
    "HeteroLRError",
    "HeteroLRGuest",
    "HeteroLRHost",
    "HostModel",
    "HostRoster",
    "MaskState",
    "MsgType",
    "OursSuite",
    "PeerMessageError",
    "PheSuite",
    "PsiExchange",
    "ReferenceFit",
    "SessionPlan",
    "SessionResult",
    "SessionRole",
    "epoch_order",
    "guest_predict",
    "host_answer_predict",
    "host_names",
    "last_in_epoch",
    "multihost_reference",
    "psi_as_guest",
    "psi_as_host",
    "receive_split",
    "run_session",
    "schedule",
    "send_split",
    "sigmoid",
    "suite_class",
    "taylor_lr_reference",
    "unmask",
]
