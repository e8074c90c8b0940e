"""The telemetry schema: one column per counter or gauge, named after SONiC and OpenConfig.

Every port of every switch is sampled with the same columns. Counters are cumulative (uint64, as
SONiC's COUNTERS_DB keeps them; rates come from differences); gauges are instantaneous readings.
Queue columns are the lossless RoCE queue 3 (priority 3 in both shipped RoCE profiles).

Where the names come from (read from the public sources, not copied):
- sonic-net/sonic-swss orchagent/portsorch.cpp (port and queue stat ids polled into COUNTERS_DB),
  orchagent/pfcwdorch.cpp (PFC_WD_QUEUE_STATS_DEADLOCK_DETECTED / _RESTORED, PFC_WD_STATUS),
  orchagent/port_rates.lua (FEC_PRE_BER in COUNTERS_DB RATES:<port oid>);
- sonic-net/SONiC doc/port_fec_ber/port_fec_ber.md (FEC counters used for the BER);
- opencomputeproject/SAI inc/saiport.h and saiqueue.h (SAI_PORT_STAT_* / SAI_QUEUE_STAT_* ids);
- sonic-net/sonic-platform-common sonic_xcvr (STATE_DB TRANSCEIVER_DOM_SENSOR fields
  temperature, rx1power, tx1power, tx1bias);
- openconfig/public: openconfig-interfaces, openconfig-if-ethernet, openconfig-platform(-transceiver),
  openconfig-qos, openconfig-bgp (paths below, state containers).
A column without an OpenConfig path has no standard leaf there (per-priority PFC, ECN marks, PFC
watchdog); `openconfig` is then empty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Metric:
    name: str  # column name
    kind: str  # counter (cumulative) | gauge
    unit: str
    sonic: str  # database, table key and field
    openconfig: str  # state path, "" if OpenConfig has no leaf for it
    help: str

    @property
    def dtype(self):
        return np.uint64 if self.kind == "counter" else np.float64


_P = "COUNTERS_DB COUNTERS:<port oid> "
_Q = "COUNTERS_DB COUNTERS:<queue oid of Ethernet<n>:3> "
_IF = "/interfaces/interface[name=<port>]/state/counters/"
_ETH = "/interfaces/interface[name=<port>]/ethernet/state/counters/"
_XCVR = "/components/component[name=<transceiver of port>]/"
_QOS = "/qos/interfaces/interface[interface-id=<port>]/output/queues/queue[name=3]/state/"
_BGP = (
    "/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP][name=bgp]"
    "/bgp/neighbors/neighbor[neighbor-address=<peer ip>]/state/"
)

METRICS: tuple[Metric, ...] = (
    Metric("in_octets", "counter", "bytes", _P + "SAI_PORT_STAT_IF_IN_OCTETS", _IF + "in-octets", "bytes received"),
    Metric("out_octets", "counter", "bytes", _P + "SAI_PORT_STAT_IF_OUT_OCTETS", _IF + "out-octets", "bytes sent"),
    Metric(
        "in_errors", "counter", "packets", _P + "SAI_PORT_STAT_IF_IN_ERRORS", _IF + "in-errors", "frames received with errors"
    ),
    Metric(
        "crc_errors",
        "counter",
        "packets",
        _P + "SAI_PORT_STAT_ETHER_STATS_CRC_ALIGN_ERRORS",
        _ETH + "in-crc-errors",
        "frames with a bad FCS (an uncorrectable FEC codeword corrupts its frame)",
    ),
    Metric("in_discards", "counter", "packets", _P + "SAI_PORT_STAT_IF_IN_DISCARDS", _IF + "in-discards", "ingress drops"),
    Metric("out_discards", "counter", "packets", _P + "SAI_PORT_STAT_IF_OUT_DISCARDS", _IF + "out-discards", "egress drops"),
    Metric(
        "fec_corrected_codewords",
        "counter",
        "codewords",
        _P + "SAI_PORT_STAT_IF_IN_FEC_CORRECTABLE_FRAMES",
        _XCVR + "transceiver/state/fec-corrected-bytes",
        "RS-FEC codewords corrected",
    ),
    Metric(
        "fec_uncorrectable_codewords",
        "counter",
        "codewords",
        _P + "SAI_PORT_STAT_IF_IN_FEC_NOT_CORRECTABLE_FRAMES",
        _XCVR + "transceiver/state/fec-uncorrectable-blocks",
        "RS-FEC codewords beyond correction",
    ),
    Metric(
        "pre_fec_ber",
        "gauge",
        "ratio",
        "COUNTERS_DB RATES:<port oid> FEC_PRE_BER",
        _XCVR + "transceiver/state/pre-fec-ber/instant",
        "bit error ratio before FEC",
    ),
    Metric(
        "pfc3_rx_pkts",
        "counter",
        "frames",
        _P + "SAI_PORT_STAT_PFC_3_RX_PKTS",
        "",
        "PFC pause frames received for priority 3 (the peer asks us to stop)",
    ),
    Metric(
        "pfc3_tx_pkts",
        "counter",
        "frames",
        _P + "SAI_PORT_STAT_PFC_3_TX_PKTS",
        "",
        "PFC pause frames sent for priority 3 (we ask the peer to stop)",
    ),
    Metric(
        "q3_ecn_marked_pkts",
        "counter",
        "packets",
        _Q + "SAI_QUEUE_STAT_WRED_ECN_MARKED_PACKETS",
        "",
        "packets ECN-marked by WRED on the lossless queue",
    ),
    Metric(
        "q3_dropped_pkts",
        "counter",
        "packets",
        _Q + "SAI_QUEUE_STAT_DROPPED_PACKETS",
        _QOS + "dropped-pkts",
        "packets dropped on the lossless queue",
    ),
    Metric(
        "q3_watermark_bytes",
        "gauge",
        "bytes",
        "COUNTERS_DB USER_WATERMARKS:<queue oid> SAI_QUEUE_STAT_SHARED_WATERMARK_BYTES",
        _QOS + "max-queue-len",
        "peak queue occupancy in the sample",
    ),
    Metric(
        "pfcwd_deadlock_detected",
        "counter",
        "events",
        _Q + "PFC_WD_QUEUE_STATS_DEADLOCK_DETECTED",
        "",
        "PFC watchdog storms detected on the queue",
    ),
    Metric(
        "pfcwd_deadlock_restored",
        "counter",
        "events",
        _Q + "PFC_WD_QUEUE_STATS_DEADLOCK_RESTORED",
        "",
        "PFC watchdog storms restored on the queue",
    ),
    Metric(
        "oper_up",
        "gauge",
        "bool",
        "APPL_DB PORT_TABLE:<port> oper_status",
        "/interfaces/interface[name=<port>]/state/oper-status",
        "1 while the link is up",
    ),
    Metric(
        "carrier_transitions",
        "counter",
        "events",
        "APPL_DB PORT_TABLE:<port> flap_count",
        _IF + "carrier-transitions",
        "link up/down changes",
    ),
    Metric(
        "bgp_established",
        "gauge",
        "bool",
        "STATE_DB NEIGH_STATE_TABLE|<peer ip> state",
        _BGP + "session-state",
        "1 while the BGP session on this port's /31 is Established (NaN: no session)",
    ),
    Metric(
        "bgp_established_transitions",
        "counter",
        "events",
        "FRR show bgp neighbors json: connectionsEstablished",
        _BGP + "established-transitions",
        "times the session reached Established",
    ),
    Metric(
        "dom_temperature_c",
        "gauge",
        "C",
        "STATE_DB TRANSCEIVER_DOM_SENSOR|<port> temperature",
        _XCVR + "state/temperature/instant",
        "optic module temperature",
    ),
    Metric(
        "dom_tx_power_dbm",
        "gauge",
        "dBm",
        "STATE_DB TRANSCEIVER_DOM_SENSOR|<port> tx1power",
        _XCVR + "transceiver/physical-channels/channel[index=1]/state/output-power/instant",
        "optic transmit power, lane 1",
    ),
    Metric(
        "dom_rx_power_dbm",
        "gauge",
        "dBm",
        "STATE_DB TRANSCEIVER_DOM_SENSOR|<port> rx1power",
        _XCVR + "transceiver/physical-channels/channel[index=1]/state/input-power/instant",
        "optic receive power, lane 1",
    ),
)

BY_NAME = {m.name: m for m in METRICS}
COUNTERS = tuple(m.name for m in METRICS if m.kind == "counter")
GAUGES = tuple(m.name for m in METRICS if m.kind == "gauge")

# RS(544,514) "KP4" FEC of 100G-per-lane PAM4 Ethernet: a codeword is 5,440 bits of 10-bit symbols and
# corrects up to 15 symbols; IEEE 802.3 sets the pre-FEC BER a link must stay under at 2.4e-4.
FEC_CODEWORD_BITS = 5440
FEC_SYMBOL_BITS = 10
FEC_SYMBOLS = 544
FEC_T_SYMBOLS = 15
FEC_BER_LIMIT = 2.4e-4


def schema_rows() -> list[dict]:
    """The schema as rows (for `tokenfab operate schema` and the docs)."""
    return [dict(name=m.name, kind=m.kind, unit=m.unit, sonic=m.sonic, openconfig=m.openconfig, help=m.help) for m in METRICS]
