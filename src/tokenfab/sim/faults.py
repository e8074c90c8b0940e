"""What goes wrong: links and switches down, degraded links, packet loss, added latency and jitter.

Every fault names its target with the shared syntax of `tokenfab.names.resolve` (`spine-3`,
`leaf-r1-1:Ethernet256`, `leaf-r1-1--spine-3`, `...:Ethernet256--spine-3:Ethernet0`).

Down (`down`): a link (or every link of a switch) has capacity 0 and leaves every ECMP group.
  Routing recomputes shortest paths over what remains, so traffic re-hashes over the surviving
  members, exactly as BGP multipath withdraws a next hop. A server or NIC port that is down makes
  its GPUs unreachable, and a collective that needs them is refused.

Degraded (`degrade`): capacity *= fraction (for example a 800G link that trained at 400G: 0.5).
  ECMP and spraying ignore it (they are oblivious to load); adaptive routing sees it.

Packet loss (`loss`). `loss_scope` says what the probability is per:
  "link" (default): per packet per link crossed (the same in both directions). A transfer
    crossing links with losses p_1..p_h loses a packet with p = 1 - prod(1 - p_i).
  "path": per packet end to end, whatever the path (one number for every network transfer).
RoCE recovers as the NIC is configured (`recovery`):

  go-back-N (RoCE's default): a loss makes the sender resend everything in flight after it, about
    one window W = ceil(line_rate * RTT / MTU) packets. Goodput per wire byte (Bertsekas-Gallager,
    continuous ARQ):              eta_gbn = (1 - p) / (1 + (W - 1) * p)
    And RoCE's receiver NAKs only the first out-of-sequence packet of a recovery and stays silent
    until the expected packet arrives: a second loss among the W packets being resent is never
    NAKed and waits for the retransmission timeout RTO. Timeouts per packet sent:
                                  to_gbn = p * (1 - (1 - p)^W)
    With RTO ~1 ms and packets of ~80 ns this is the cliff Wang et al. measured ("Error Recovery
    of RDMA Packets in Data Center Networks", ICCCN 2019: go-back-N throughput drops to nearly
    zero at and above 1% loss; re-triggering the NAK, their fix, leaves eta_gbn, ~60% at 1%).
  selective repeat: only the lost packets are resent, and a lost retransmission shows up again
    in the receiver's acknowledgements, so nothing waits for a timeout:
                                  eta_sr  = 1 - p,   to_sr = 0
  The wire carries goodput / eta, so retransmissions take bandwidth from every flow on the path
  (in the incidence matrix the transfer's coefficients are multiplied by 1 / eta), and each byte
  stalls to * RTO / MTU; a stalled hop stalls its whole ring (the pipeline drains), so stalls add
  up over a coupled flow's hops. RTO = 4.096 us * 2^k is the QP's local ACK timeout; NCCL sets
  k = NCCL_IB_TIMEOUT (default 20: 4.3 s) as the cap, and ConnectX adaptive retransmission starts
  much lower. We default to k = 8 (1.05 ms), an estimate of the first adaptive timeout.

Added latency (`extra_latency_s`) is added to every link direction crossed. Jitter (`jitter_s`) is
the mean of an exponential extra delay per network hop per step; a step ends when its slowest hop
ends, so a step of m concurrent hops waits on average jitter_s * H_m (H_m = 1 + 1/2 + ... + 1/m,
the expected maximum of m unit exponentials).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tokenfab.errors import InputError

RECOVERY = ("go-back-n", "selective-repeat")
LOSS_SCOPES = ("link", "path")
RTO_DEFAULT_S = 4.096e-6 * 2**8


@dataclass(frozen=True)
class Resolved:
    down: np.ndarray  # bool per link row
    degrade: np.ndarray  # capacity fraction per link row
    loss: np.ndarray  # packet loss probability per link row


@dataclass(frozen=True)
class Faults:
    down: tuple[str, ...] = ()
    degrade: dict[str, float] = field(default_factory=dict)  # ref -> fraction of capacity kept
    loss: float | dict[str, float] = 0.0  # every link (or path), or ref -> probability
    recovery: str = "go-back-n"
    loss_scope: str = "link"  # "link": loss is per packet per link crossed; "path": per packet end to end
    rto_s: float = RTO_DEFAULT_S
    extra_latency_s: float = 0.0
    jitter_s: float = 0.0

    def __post_init__(self):
        if self.recovery not in RECOVERY:
            raise InputError(f"unknown loss recovery {self.recovery!r}; use one of {', '.join(RECOVERY)}", "recovery")
        if self.loss_scope not in LOSS_SCOPES:
            raise InputError(
                f"unknown loss scope {self.loss_scope!r}; use link (per link crossed) or path (end to end)", "loss_scope"
            )
        if self.loss_scope == "path" and isinstance(self.loss, dict):
            raise InputError("per-path loss is one probability for every path; name links only with per-link loss", "loss_scope")
        probs = self.loss.values() if isinstance(self.loss, dict) else [self.loss]
        for p in probs:
            if not 0 <= p < 1:
                raise InputError(f"packet loss must be a probability in [0, 1), got {p}", "loss")
        for ref, f in self.degrade.items():
            if not 0 < f <= 1:
                raise InputError(f"degraded link {ref!r}: fraction must be in (0, 1], got {f}", "degrade")
        if self.rto_s <= 0:
            raise InputError(f"retransmission timeout must be > 0 s, got {self.rto_s}", "rto_s")
        if self.extra_latency_s < 0 or self.jitter_s < 0:
            raise InputError("latency and jitter must be >= 0", "latency")

    def _rows(self, fabric, ref: str, what: str) -> np.ndarray:
        from tokenfab.names import resolve

        r = resolve(fabric, ref)
        if r.is_device:
            i = fabric.index[r.devices[0]]
            rows = np.flatnonzero((fabric.links["a"] == i) | (fabric.links["b"] == i))
            if not len(rows):
                raise InputError(f"{what} {ref!r}: the device has no links")
            return rows
        return np.asarray(r.links, dtype=np.int64)

    def resolve(self, fabric) -> Resolved:
        n = len(fabric.links)
        down = np.zeros(n, dtype=bool)
        for ref in self.down:
            down[self._rows(fabric, ref, "--fail")] = True
        degrade = np.ones(n)
        for ref, frac in self.degrade.items():
            rows = self._rows(fabric, ref, "--degrade")
            degrade[rows] = np.minimum(degrade[rows], frac)
        if isinstance(self.loss, dict):
            loss = np.zeros(n)
            for ref, p in self.loss.items():
                loss[self._rows(fabric, ref, "--loss")] = p
        else:
            loss = np.full(n, float(self.loss))
        return Resolved(down, degrade, loss)


def goodput_efficiency(p: np.ndarray, window_pkts: np.ndarray, recovery: str) -> np.ndarray:
    """Goodput per wire byte under packet loss p (see the module docstring for the formulas)."""
    p = np.asarray(p, dtype=np.float64)
    if recovery == "selective-repeat":
        return 1.0 - p
    return (1.0 - p) / (1.0 + (np.asarray(window_pkts, dtype=np.float64) - 1.0) * p)


def timeouts_per_packet(p: np.ndarray, window_pkts: np.ndarray, recovery: str) -> np.ndarray:
    """Retransmission timeouts per packet sent under loss p (see the module docstring)."""
    p = np.asarray(p, dtype=np.float64)
    if recovery == "selective-repeat":
        return np.zeros_like(p)
    return p * -np.expm1(np.asarray(window_pkts, dtype=np.float64) * np.log1p(-p))


def harmonic(m: int) -> float:
    """H_m: the expected maximum of m unit exponentials (jitter of a step of m hops)."""
    if m <= 0:
        return 0.0
    if m < 10_000:
        return float(np.sum(1.0 / np.arange(1, m + 1)))
    return float(np.log(m) + 0.5772156649 + 1 / (2 * m))
