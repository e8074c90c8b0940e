"""Data-plane proof: ICMP echoes between loopbacks (switches) and NIC addresses (servers).

A raw ICMP socket belongs to the namespace it was created in. So the twin enters each source
namespace just long enough to create (and bind) one socket there (setns(2) on this thread, then
back), and then sends and receives every echo from this one process with select(): thousands of
pairs in well under a second, instead of one `ping` process per pair.
"""

from __future__ import annotations

import ctypes
import os
import select
import socket
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tokenfab.twin.netns import NETNS_DIR

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


@contextmanager
def entered(netns: str) -> Iterator[None]:
    """This thread inside `netns` for the duration of the block."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(NETNS_DIR / netns, os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {netns}: {os.strerror(err)}")
        try:
            yield
        finally:
            if _libc.setns(home, CLONE_NEWNET) != 0:  # cannot happen for our own namespace; never continue elsewhere
                os._exit(70)
    finally:
        os.close(target)
        os.close(home)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def _echo(ident: int, seq: int) -> bytes:
    payload = b"tokenfab-twin"
    head = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    return struct.pack("!BBHHH", 8, 0, _checksum(head + payload), ident, seq) + payload


def ping_all(pairs: list[tuple[str, str, str]], timeout_s: float = 2.0, tries: int = 2) -> dict[tuple[str, str, str], bool]:
    """pairs: (netns, source address, destination). Returns which got an echo reply."""
    socks: dict[tuple[str, str], socket.socket] = {}
    result = {p: False for p in pairs}
    try:
        for ns, src, _ in pairs:
            if (ns, src) not in socks:
                with entered(ns):
                    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
                s.bind((src, 0))
                s.setblocking(False)
                socks[(ns, src)] = s
        ident = os.getpid() & 0xFFFF
        index = {}  # (socket key, seq) -> pair
        by_sock: dict[tuple[str, str], list[tuple[int, tuple[str, str, str]]]] = {}
        for seq, p in enumerate(pairs):
            by_sock.setdefault((p[0], p[1]), []).append((seq & 0xFFFF, p))
            index[((p[0], p[1]), seq & 0xFFFF)] = p
        fd_key = {s.fileno(): k for k, s in socks.items()}
        for _ in range(tries):
            for key, items in by_sock.items():
                for seq, p in items:
                    if not result[p]:
                        try:
                            socks[key].sendto(_echo(ident, seq), (p[2], 0))
                        except OSError:
                            pass  # no route: stays False
            deadline = time.monotonic() + timeout_s
            while not all(result.values()) and (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select(list(socks.values()), [], [], left)
                for s in ready:
                    key = fd_key[s.fileno()]
                    while True:
                        try:
                            data, (addr, _) = s.recvfrom(2048)
                        except BlockingIOError:
                            break
                        ihl = (data[0] & 0x0F) * 4
                        if len(data) < ihl + 8:
                            continue
                        typ, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl : ihl + 8])
                        hit = index.get((key, rseq))
                        if typ == 0 and rid == ident and hit and hit[2] == addr:
                            result[hit] = True
            if all(result.values()):
                break
    finally:
        for s in socks.values():
            s.close()
    return result
