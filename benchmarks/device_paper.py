"""The ``paper`` profile on a GPU in one device call: reproduce, export, explanation speed.

On the lent GPU machine (the ``device`` tool), with the data set packed here first
(``causalcam data pack runs/pack/covidct-224.ccpack --size 224``, 42 MB; the image folder is
over what the tool carries) and ``runs/pack`` carried::

    python3 benchmarks/device_paper.py --data runs/pack/covidct-224.ccpack --out $OUT

It runs ``causalcam reproduce --profile paper --device cuda --precision bf16`` into ``--run``
(stage by stage resumable: a second call on a still-warm machine continues) and stops it after
``--budget`` seconds. Then it exports the run without checkpoints to ``OUT/paper.tar.gz``,
times the trained ResNet-18's maps (images per second: a forward pass, all six maps of
causalcam, the grad-cam package's GradCAM; CUDA synchronised, median of ``--rounds``) and
writes ``OUT/device_run.json``. Tested on the CPU with ``--profile tiny --device cpu``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from causalcam._io import atomic_write_json
from causalcam.explain import PAPER_MAPS, Explainer
from causalcam.models import default_target_layer
from causalcam.preprocess import to_model_input
from causalcam.report.build import export_run
from causalcam.reproduce.context import load_network, load_test_set
from causalcam.reproduce.profiles import get_profile


@dataclass(frozen=True)
class Throughput:
    """Images per second of one batch of test scans through the trained ResNet-18."""

    batch: int
    forward: float
    causalcam_all_maps: float
    gradcam_package: float | None  # None where the grad-cam package is not installed

    @property
    def all_maps_vs_gradcam(self) -> float | None:
        """How many times faster all six maps come than the grad-cam package's one."""
        return self.causalcam_all_maps / self.gradcam_package if self.gradcam_package else None


@dataclass(frozen=True)
class DeviceRun:
    """What one call measured: the reproduction's time, its stages, the explanation speed."""

    profile: str
    device: str
    device_name: str
    torch: str
    budget_seconds: float
    reproduce_seconds: float
    finished: bool
    stage_seconds: dict[str, float]
    throughput: Throughput | None

    def to_json(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        if self.throughput is not None:
            values["throughput"]["all_maps_vs_gradcam"] = self.throughput.all_maps_vs_gradcam
        return values


def run_reproduce(args: argparse.Namespace) -> tuple[float, bool]:
    """``causalcam reproduce`` in a child process for at most ``args.budget`` seconds; its
    wall time and whether it ended by itself with success."""
    command = [sys.executable, "-m", "causalcam", "reproduce", "--profile", args.profile]
    command += ["--device", args.device, "--data", str(args.data), "--out", str(args.run)]
    command += ["--precision", args.precision, "--quiet"]
    command += ["--archs", args.archs] if args.archs else []
    start = time.perf_counter()
    try:
        finished = subprocess.run(command, timeout=args.budget, check=False).returncode == 0
    except subprocess.TimeoutExpired:  # killed: the next call resumes at the stage it was in
        finished = False
    return time.perf_counter() - start, finished


def stage_seconds(run: Path) -> dict[str, float]:
    """Seconds of each finished stage, from the run's manifest."""
    try:
        stages = json.loads((run / "manifest.json").read_text())["stages"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return {}
    return {name: float(s["seconds"]) for name, s in stages.items() if "seconds" in s}


def median_seconds(function: Callable[[], object], device: torch.device, rounds: int) -> float:
    """Median wall time of ``function`` over ``rounds`` calls after one warm-up call."""

    def timed() -> float:
        start = time.perf_counter()
        function()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    timed()
    return statistics.median(timed() for _ in range(rounds))


def throughput(args: argparse.Namespace, device: torch.device) -> Throughput | None:
    """Images per second of the run's trained ResNet-18 (None if it was not trained)."""
    checkpoint = args.run / "models" / "resnet18" / "best.pt"
    if not checkpoint.is_file():
        return None
    network = load_network(checkpoint, device)
    profile = get_profile(args.profile)
    images = load_test_set(profile.size, profile.limit, args.data).images[: args.batch]
    x = to_model_input(images.to(device), network.preprocessing)
    model, layer = network.model.eval(), default_target_layer(network.model)
    explainer = Explainer(model, target_layer=layer)
    per_second = {}
    with torch.no_grad():
        per_second["forward"] = len(x) / median_seconds(lambda: model(x), device, args.rounds)
    per_second["all"] = len(x) / median_seconds(
        lambda: explainer.explain(x, methods=PAPER_MAPS), device, args.rounds
    )
    return Throughput(len(x), per_second["forward"], per_second["all"], gradcam(args, model, x))


def gradcam(args: argparse.Namespace, model: torch.nn.Module, x: torch.Tensor) -> float | None:
    """Images per second of the grad-cam package's GradCAM on the same batch."""
    try:
        from pytorch_grad_cam import GradCAM
    except ImportError:
        return None
    layer = model.get_submodule(default_target_layer(model))
    with GradCAM(model=model, target_layers=[layer]) as cam:
        seconds = median_seconds(lambda: cam(input_tensor=x, targets=None), x.device, args.rounds)
    return len(x) / seconds


def export_archive(run: Path, out: Path) -> Path:
    """The run without checkpoints and caches (``causalcam report --export``) as one archive."""
    target = out / "paper.tar.gz"
    with tempfile.TemporaryDirectory() as folder:
        exported = export_run(run, Path(folder) / "paper")
        with tarfile.open(target, "w:gz") as archive:
            archive.add(exported, arcname="paper")
    return target


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a pack or COVID-CT folder")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "runs/device")))
    parser.add_argument("--run", type=Path, default=Path("runs/device-paper"))
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--archs", default=None, help="some of the profile's networks")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--budget", type=float, default=480.0, help="seconds of reproduce")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> DeviceRun:
    args = parse(argv)
    device = torch.device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    seconds, finished = run_reproduce(args)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    result = DeviceRun(
        args.profile, args.device, name, torch.__version__, args.budget, round(seconds, 1),
        finished, stage_seconds(args.run), throughput(args, device),
    )  # fmt: skip
    if (args.run / "manifest.json").is_file():
        export_archive(args.run, args.out)
    atomic_write_json(args.out / "device_run.json", result.to_json())
    print(json.dumps(result.to_json(), indent=2))
    return result


if __name__ == "__main__":
    main()
