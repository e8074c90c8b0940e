"""Workloads: what runs on the GPUs. Training jobs and inference services become compute time and
the collectives they issue; communication time comes from a `CommModel` (see comm.py)."""
