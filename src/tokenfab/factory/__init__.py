"""The AI factory: jobs placed on the fabric, run over a window, judged by their output.

spec/ (the description, one module per layer) -> engine.py (event loop over scheduler.py and a CommModel from
network.py or the simulator) -> kpis.py (tokens, utilisation, network idle, power, cost) ->
report.py / export.py / plot.py (files, Slurm and Kubernetes topology, timeline).
"""
