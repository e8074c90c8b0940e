"""`tokenfab simulate`: NCCL-style collective performance on the planned fabric."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_cmd)


def _degrade(fabric, text: str) -> tuple[str, float]:
    """REF=0.5 (fraction of the link's speed kept) or REF=400G (the speed it runs at)."""
    from tokenfab.errors import InputError
    from tokenfab.names import resolve
    from tokenfab.numbers import check

    ref, sep, value = text.rpartition("=")
    v = value.strip()
    try:
        if not sep or not ref:
            raise ValueError
        if v[-1:].lower() != "g":
            return ref, float(check(float(v), f"--degrade {ref}", 0, 1, lo_open=True, desc="a fraction of the speed kept"))
        speed = float(check(float(v[:-1]), f"--degrade {ref}", 0, 1e7, lo_open=True, unit="Gb/s", desc="a link speed"))
    except ValueError:
        raise InputError(
            f"--degrade {text!r}: use REF=FRACTION (0.5) or REF=SPEED (400G); {value!r} is neither a fraction nor a speed"
        ) from None
    rows = resolve(fabric, ref).links
    if not rows:
        raise InputError(f"--degrade {text!r}: a speed needs a link, not a device")
    return ref, speed / float(fabric.links["speed_gbps"][rows[0]])


def simulate_cmd(
    plan: Path = typer.Argument(..., help="intent YAML or plan folder (fabric.json)"),
    collective: str = typer.Option(
        "all_reduce",
        "--collective",
        "-c",
        help="all_reduce | all_gather | reduce_scatter | all_to_all | broadcast | reduce | send_recv",
    ),
    minbytes: str = typer.Option("1M", "-b", "--minbytes", help="smallest size (nccl-tests syntax: 8, 64K, 1M, 16G)"),
    maxbytes: str = typer.Option("1G", "-e", "--maxbytes", help="largest size"),
    stepfactor: int = typer.Option(2, "-f", "--stepfactor", help="multiply the size by this between lines"),
    stepbytes: str | None = typer.Option(None, "-i", "--stepbytes", help="add this between lines (when -f is 1)"),
    algo: str = typer.Option(
        "auto", "--algo", help="all_reduce algorithm: auto (faster per size) | ring | tree | nvls (NVLink SHARP, one server)"
    ),
    routing: str = typer.Option("ecmp", "--routing", help="ecmp | adaptive | spray"),
    gpus: int | None = typer.Option(None, "--gpus", help="the first N GPUs (default: all, or all of --servers)"),
    servers: str | None = typer.Option(None, "--servers", help="servers in ring order: srv-1,srv-9,srv-2 or srv-1..srv-16"),
    qps: int = typer.Option(1, "--qps", help="queue pairs per connection (NCCL_IB_QPS_PER_CONNECTION)"),
    channels: int = typer.Option(1, "--channels", help="NCCL channels per NIC"),
    fail: list[str] = typer.Option(
        [], "--fail", help="link or switch down (repeatable): spine-3, leaf-r1-1--spine-3, leaf-r1-1:Ethernet256"
    ),
    degrade: list[str] = typer.Option([], "--degrade", help="degraded link (repeatable): REF=0.5 or REF=400G"),
    loss: float = typer.Option(0.0, "--loss", help="packet loss probability, per link crossed or per path (--loss-scope)"),
    loss_scope: str = typer.Option(
        "link",
        "--loss-scope",
        help="what --loss is per: link (each link crossed; a path of h links loses 1-(1-p)^h) | path (end to end)",
    ),
    recovery: str = typer.Option("go-back-n", "--recovery", help="RoCE loss recovery: go-back-n | selective-repeat"),
    rto_us: float | None = typer.Option(None, "--rto-us", help="retransmission timeout (default 4.096 us x 2^8)"),
    latency_us: float = typer.Option(0.0, "--latency", help="added latency per link crossed, us"),
    jitter_us: float = typer.Option(0.0, "--jitter", help="mean added jitter per network hop per step, us"),
    seeds: int = typer.Option(1, "--seeds", help="run this many seeds (QP numbers, hash seeds): min, median, max"),
    seed: int = typer.Option(0, "--seed", help="first seed"),
    efficiency: float | None = typer.Option(
        None, "--efficiency", help="NIC/fabric protocol efficiency (default 0.95 from catalog/data/protocols.yaml; 1 = line rate)"
    ),
    nvlink_efficiency: float | None = typer.Option(
        None, "--nvlink-efficiency", help="NVLink protocol efficiency (default 0.822; 1 = line rate)"
    ),
    no_pxn: bool = typer.Option(False, "--no-pxn", help="disable PXN (cross-rail traffic then crosses the spines)"),
    dtype: str = typer.Option("float", "--dtype", "-d", help="element type (sizes are rounded to whole elements)"),
    link_load: bool = typer.Option(False, "--link-load", help="print per-link load at the largest size"),
    plot: Path | None = typer.Option(None, "--plot", help="write a per-link load heat map (SVG)"),
    gpu_idle: float | None = typer.Option(
        None, "--gpu-idle", help="compute seconds per step: print the share of the step GPUs wait on the collective"
    ),
) -> None:
    """Simulate NCCL collectives on the fabric and print the nccl-tests table."""
    from rich.progress import Progress

    from tokenfab.clikit import console, load_plan_or_intent
    from tokenfab.clikit import fail as fail_exit
    from tokenfab.errors import InputError

    try:
        import tokenfab
        from tokenfab.numbers import MAX_CHANNELS, MAX_LATENCY_S, MAX_QPS, MAX_SEEDS, check
        from tokenfab.sim import Faults, SimParams, parse_size, size_series
        from tokenfab.sim.faults import RTO_DEFAULT_S
        from tokenfab.sim.report import heatmap_svg, link_load_text, nccl_table

        # every number checked here, before the fabric is read: a NaN never reaches the solver
        check(seeds, "--seeds", 1, MAX_SEEDS)
        check(qps, "--qps", 1, MAX_QPS)
        check(channels, "--channels", 1, MAX_CHANNELS)
        check(stepfactor, "-f", 1, 1024)
        check(loss, "--loss", 0, 1, hi_open=True, desc="a packet loss probability")
        if nvlink_efficiency is not None:
            check(nvlink_efficiency, "--nvlink-efficiency", 0, 1, lo_open=True, desc="a fraction of NVLink bandwidth")
        if efficiency is not None:  # None: the catalog's protocol efficiency (SimParams)
            check(efficiency, "--efficiency", 0, 1, lo_open=True, desc="a fraction of line rate")
        check(latency_us, "--latency", 0, MAX_LATENCY_S * 1e6, unit="us", desc="an added latency")
        check(jitter_us, "--jitter", 0, MAX_LATENCY_S * 1e6, unit="us", desc="a mean jitter")
        if rto_us is not None:
            check(rto_us, "--rto-us", 0, 1e7, lo_open=True, unit="us")
        if gpu_idle is not None:
            check(gpu_idle, "--gpu-idle", 0, 1e6, unit="s")
        check(seed, "--seed", 0, 2**32 - 1)
        if gpus is not None:
            check(gpus, "--gpus", 1)
        sizes = size_series(
            parse_size(minbytes, "-b"), parse_size(maxbytes, "-e"), stepfactor, parse_size(stepbytes, "-i") if stepbytes else None
        )
        if plot is not None and plot.suffix.lower() != ".svg":
            raise InputError(f"--plot {plot}: the heat map is written as SVG; name it *.svg")
        if plot is not None:
            from tokenfab.outputs import check_file

            check_file(plot, "--plot")  # before the simulation, not after it
        fabric = load_plan_or_intent(plan)
        deg = dict(_degrade(fabric, text) for text in degrade)
        faults = Faults(
            down=tuple(fail),
            degrade=deg,
            loss=loss,
            recovery=recovery,
            loss_scope=loss_scope,
            rto_s=RTO_DEFAULT_S if rto_us is None else rto_us * 1e-6,
            extra_latency_s=latency_us * 1e-6,
            jitter_s=jitter_us * 1e-6,
        )
        params = SimParams(efficiency=efficiency, nvlink_efficiency=nvlink_efficiency, channels_per_nic=channels, pxn=not no_pxn)
        want_links = link_load or plot is not None
        with Progress(transient=True, console=console, disable=not console.is_terminal) as bar:
            task = bar.add_task(f"simulating {collective}", total=seeds)
            result = tokenfab.simulate(
                fabric,
                collective,
                sizes,
                gpus=gpus,
                servers=servers,
                algorithm=algo,
                routing=routing,
                qps=qps,
                seeds=seeds,
                seed=seed,
                faults=faults,
                params=params,
                dtype=dtype,
                progress=lambda: bar.advance(task),
            )
        coll, ids, lines = result.collective, result.gpus, result.lines
    except InputError as exc:
        fail_exit(str(exc))
        return

    d = fabric.design
    first = lines[0].first
    where = f"servers {servers}" if servers else f"{len(ids):,} GPUs"
    echo = console.print
    echo(
        f"# tokenfab simulate: {coll} on {where} ({first.n_ranks:,} ranks, "
        f"{first.n_servers:,} server{'s' if first.n_servers > 1 else ''}) of "
        f"{fabric.intent.name} ({d.gpus:,} x {d.gpu_model}, {d.architecture}, {d.tiers} tier(s), "
        f"{d.link_speed_gbps}G)",
        highlight=False,
        soft_wrap=True,
    )
    extra = [
        f"routing {routing}",
        f"{qps} QP(s)/connection",
        f"{channels} channel(s)/NIC",
        f"efficiency NIC {params.efficiency:g} NVLink {params.nvlink_efficiency:g}",
    ]
    if seeds > 1:
        extra.append(f"seeds {seed}..{seed + seeds - 1}")
    if fail:
        extra.append("down: " + ", ".join(fail))
    if deg:
        extra.append("degraded: " + ", ".join(f"{k} x{v:g}" for k, v in deg.items()))
    if loss:
        extra.append(f"loss {loss:g} per {'link crossed' if loss_scope == 'link' else 'path (end to end)'} ({recovery})")
    if jitter_us or latency_us:
        extra.append(f"latency +{latency_us:g} us/link, jitter {jitter_us:g} us")
    echo("# " + ", ".join(extra), highlight=False, soft_wrap=True)
    echo(nccl_table(lines, dtype, gpu_idle), highlight=False, soft_wrap=True)
    if gpu_idle is not None:
        echo(
            f"# idle = collective time / (compute {gpu_idle:g} s + collective time): the share of each step the "
            "GPUs wait on the network",
            highlight=False,
            soft_wrap=True,
        )
    if want_links:
        biggest = max(range(len(sizes)), key=lambda i: sizes[i])
        r = lines[biggest].first
        if link_load:
            echo(link_load_text(r), highlight=False, soft_wrap=True)
        if plot is not None:
            svg = heatmap_svg(r, f"{fabric.intent.name}: {coll} on {len(ids):,} GPUs, {routing}, seed {seed}, {r.size_bytes} B")
            tmp = plot.with_name(f".{plot.name}.tmp")
            try:
                plot.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_text(svg)
                tmp.replace(plot)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                fail_exit(f"cannot write {plot}: {exc.strerror}")
            echo(f"# wrote {plot}", highlight=False)
