"""The AI factory: jobs placed on the fabric, run over a window, judged by their output.

spec/ (the description, one module per layer) -> engine.py (the event loop; jobs.py, rates.py,
epoch.py, accounting.py, checkpoint.py, power.py and layers.py are its rooms, over scheduler.py and
a CommModel from network.py or the simulator) -> kpis.py / ledger.py (tokens, utilisation, GPU time
by cause, power, cost) -> report.py / export.py / plot.py (files, Slurm and Kubernetes topology,
timeline).
"""
