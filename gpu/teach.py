"""Train a strong teacher and distil it into the shipped student, on a GPU, in one timed call.

Issue #13 needs a teacher clearly better than anything a 2-core CPU trains in a session. This script
does the whole job inside one device call (PyTorch; no TensorFlow there):

1. reads EuroSAT from the zip (or its parts, see ``gpu/README.md``) and the committed split;
2. trains a ResNet-18-style teacher (:class:`eurosat_torch.Teacher`) from scratch: SGD + Nesterov,
   cosine schedule, flips/rotations, random resized crops, mixup/CutMix, label smoothing;
3. distils it into the student twin (:class:`eurosat_torch.LightResNet`, ``resnet_light_deep`` by default)
   by *function matching* (Beyer et al. 2022): every batch is augmented and mixed afresh, the teacher
   labels exactly what the student sees, the loss is the KL divergence; EMA of the student's weights;
   batch-norm statistics re-estimated on clean training images at the end;
4. writes to ``--out``: ``student.npz`` (Keras layout, for ``python -m eurosat.student_import``),
   ``teacher_probs.npz`` (the teacher's 8-view probabilities on train/val/test, float16, with each
   row's image path) and
   ``log.json`` (settings, hardware, every evaluation, timings). ``student.npz`` and ``log.json`` are
   rewritten at every evaluation, so a call cut off at its limit still returns the latest.

Decisions use the validation split only; test is scored once, at the end, for the record.
Epochs are sized to ``--budget-s`` from timed steps, so the same command fits a 10-minute call.

    python gpu/teach.py --data .gpu/EuroSAT_RGB.zip --out "$OUT" --budget-s 480
    python gpu/teach.py --data ../shared/data/EuroSAT_RGB.zip --out /tmp/t --device cpu --subset 0.02 \
        --budget-s 60        # a smoke run on a CPU
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from eurosat_torch import LightResNet, Teacher, keras_arrays, load_keras_arrays  # noqa: E402
from pack import joined_zip  # noqa: E402

from eurosat.data import ImageSource, read_split  # noqa: E402  (numpy + Pillow only)


# ----------------------------------------------------------------------------------------------- data
def load_split(data: Path, split: Path, subset: float, seed: int) -> tuple[dict, dict[str, list[str]]]:
    """({'train'|'val'|'test': (uint8 (N, 64, 64, 3), int64 (N,))}, their image paths).

    The whole split keeps the split file's order; a ``subset`` < 1 is a seeded random share of each.
    """
    source = ImageSource(joined_zip(data))
    rng = np.random.default_rng(seed)
    out, paths = {}, {}
    for name, items in read_split(split).items():
        if subset < 1:
            items = [
                items[i] for i in rng.permutation(len(items))[: max(10, int(round(subset * len(items))))]
            ]
        x, y = source.load(items)
        out[name], paths[name] = (x, y.astype(np.int64)), [it.path for it in items]
    return out, paths


def synthetic_split(n: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Random tiles, a mean colour per class plus noise (``--synthetic``: the GPU code path in seconds,
    before the data have arrived on the machine)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, size in (("train", n), ("val", max(10, n // 8)), ("test", max(10, n // 8))):
        y = rng.integers(0, 10, size)
        colour = np.stack([25 * y, 255 - 20 * y, (70 * y) % 256], 1)[:, None, None, :]
        x = np.clip(colour + rng.normal(0, 30, (size, 64, 64, 3)), 0, 255).astype(np.uint8)
        out[name] = (x, y.astype(np.int64))
    return out


# ---------------------------------------------------------------------------------------- augmentation
def d4(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Each (N, C, H, W) square tile in one of its 8 flips/rotations, at random."""
    n = x.shape[0]
    bits = torch.randint(0, 2, (3, n), generator=g, device=x.device).bool().view(3, n, 1, 1, 1)
    x = torch.where(bits[0], x.flip(3), x)
    x = torch.where(bits[1], x.flip(2), x)
    return torch.where(bits[2], x.transpose(2, 3), x)


def random_resized_crop(x: torch.Tensor, g: torch.Generator, min_scale: float) -> torch.Tensor:
    """Zoom into a random square of side ``min_scale``–1 of each tile, anywhere inside it (bilinear)."""
    n = x.shape[0]
    s = min_scale + (1 - min_scale) * torch.rand(n, generator=g, device=x.device)
    tx = (1 - s) * (2 * torch.rand(n, generator=g, device=x.device) - 1)
    ty = (1 - s) * (2 * torch.rand(n, generator=g, device=x.device) - 1)
    theta = torch.zeros(n, 2, 3, device=x.device)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, 0, 2], theta[:, 1, 2] = s, s, tx, ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def colour_jitter(x: torch.Tensor, g: torch.Generator, amount: float) -> torch.Tensor:
    """Brightness and contrast × (1 ± ``amount``) per tile, on the 0-255 scale, clipped."""
    n = x.shape[0]
    b = 1 + amount * (2 * torch.rand(n, 1, 1, 1, generator=g, device=x.device) - 1)
    c = 1 + amount * (2 * torch.rand(n, 1, 1, 1, generator=g, device=x.device) - 1)
    mean = x.mean((1, 2, 3), keepdim=True)
    return ((x - mean) * c + mean * b).clamp(0, 255)


def augment(x_u8: torch.Tensor, g: torch.Generator, min_scale: float, jitter: float) -> torch.Tensor:
    """uint8 (N, H, W, 3) → float (N, 3, H, W) 0-255, augmented (flips/rotations, crop, colour)."""
    x = x_u8.permute(0, 3, 1, 2).float()
    return colour_jitter(random_resized_crop(d4(x, g), g, min_scale), g, jitter)


def mix(
    x: torch.Tensor, y: torch.Tensor | None, g: torch.Generator, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Mixup (half the batches) or CutMix of each tile with another of the batch; λ ~ U(0, 1).

    ``y`` (N, 10) soft labels are mixed alike (None stays None: a teacher labels the mixed tiles).
    The batch-wide draws come from ``rng`` on the host (no device synchronisation per step).
    """
    n, _, h, w = x.shape
    perm = torch.randperm(n, generator=g, device=x.device)
    lam = float(rng.uniform())
    if rng.uniform() < 0.5:
        x = lam * x + (1 - lam) * x[perm]
    else:
        ch, cw = int(round(h * math.sqrt(1 - lam))), int(round(w * math.sqrt(1 - lam)))
        top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        x = x.clone()
        x[:, :, top : top + ch, left : left + cw] = x[perm, :, top : top + ch, left : left + cw]
        lam = 1 - ch * cw / (h * w)
    return x, (None if y is None else lam * y + (1 - lam) * y[perm])


# ------------------------------------------------------------------------------------------- training
class Clock:
    """Wall-clock budget of the whole call."""

    def __init__(self, budget_s: float) -> None:
        self.start, self.budget_s = time.perf_counter(), budget_s

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.budget_s - self.elapsed()


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast on the device (CUDA or CPU), or a no-op."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


@torch.no_grad()
def predict(
    model: torch.nn.Module, x_u8: torch.Tensor, amp: bool, views: int = 1, batch: int = 1024
) -> torch.Tensor:
    """Probabilities (N, 10) float32 of ``model`` on uint8 (N, H, W, 3) tiles, mean of 1 or 8 views."""
    model.eval()
    out = []
    for i in range(0, len(x_u8), batch):
        x = x_u8[i : i + batch].permute(0, 3, 1, 2).float().contiguous(memory_format=torch.channels_last)
        vs = (
            [x]
            if views == 1
            else [v for t in (x, x.transpose(2, 3)) for v in (t, t.flip(3), t.flip(2), t.flip(2).flip(3))]
        )
        with autocast(x.device, amp):
            p = torch.stack([torch.softmax(model(v).float(), 1) for v in vs]).mean(0)
        out.append(p)
    return torch.cat(out)


def accuracy(probs: torch.Tensor, y: torch.Tensor) -> float:
    return float((probs.argmax(1) == y).float().mean())


def cosine_lr(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then cosine to 0 at ``total``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return 0.5 * peak * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def steps_for(budget_s: float, step_s: float, steps_per_epoch: int, lo: int, hi: int) -> int:
    """Epochs that fit ``budget_s`` at ``step_s`` per step, within [lo, hi]."""
    return int(max(lo, min(hi, budget_s / max(step_s * steps_per_epoch, 1e-9))))


def progress(s: int, total: int, started: float, budget: float, clock: Clock) -> float:
    """Share of a phase done: by steps or by its time budget, whichever is further (0-1+).

    Driving the schedule by it keeps the cosine annealing to 0 even when steps run slower than timed.
    """
    return max(s / total, (clock.elapsed() - started) / max(budget, 1e-9))


def timed_steps(step, n: int, device: torch.device) -> float:
    """Seconds per call of ``step`` (after one warm-up call), synchronised on CUDA."""
    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(n):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / n


def train_teacher(
    data: dict, args: argparse.Namespace, device: torch.device, clock: Clock, log: dict
) -> Teacher:
    """Train the teacher from scratch within its share of the budget; returns it in eval mode."""
    x, y = data["train"]
    g = torch.Generator(device=device).manual_seed(args.seed)
    model = Teacher(width=args.teacher_width).to(device).to(memory_format=torch.channels_last)
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.ndim > 1 else no_decay).append(p)
    opt = torch.optim.SGD(
        [{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0}],
        lr=args.teacher_lr,
        momentum=0.9,
        nesterov=True,
    )
    bs = min(args.batch, len(x))
    steps_per_epoch = max(1, len(x) // bs)
    eye = torch.eye(10, device=device)
    rng = np.random.default_rng(args.seed)

    def step(lr: float = 0.0) -> torch.Tensor:
        idx = torch.randint(0, len(x), (bs,), generator=g, device=device)
        xb = augment(x[idx], g, args.min_scale, 0.1).contiguous(memory_format=torch.channels_last)
        yb = eye[y[idx]] * (1 - args.label_smoothing) + args.label_smoothing / 10
        if rng.uniform() < args.mix_prob:
            xb, yb = mix(xb, yb, g, rng)
        for group in opt.param_groups:
            group["lr"] = lr
        model.train()
        with autocast(device, args.amp):
            loss = torch.sum(-yb * torch.log_softmax(model(xb).float(), 1), 1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()

    step_s = timed_steps(step, 10, device)  # lr 0: the timing steps change nothing but BN statistics
    opt.state.clear()  # nor the momentum
    budget = args.teacher_share * clock.left()
    epochs = steps_for(budget, step_s, steps_per_epoch, 1, args.max_teacher_epochs)
    total = epochs * steps_per_epoch
    print(
        f"teacher: {step_s * 1000:.0f} ms/step of {bs}; {epochs} epochs of {steps_per_epoch} steps "
        f"in a budget of {budget:.0f} s",
        flush=True,
    )
    log["teacher"] = {"width": args.teacher_width, "epochs": epochs, "step_s": step_s, "evals": []}
    t0, started = time.perf_counter(), clock.elapsed()
    for s in range(total):
        done = progress(s, total, started, budget, clock)
        loss_t = step(cosine_lr(int(done * total), total, args.teacher_lr, 2 * steps_per_epoch))
        late = done >= 1 and s + 1 < total  # out of time: the schedule has reached its end anyway
        if late:
            log["teacher"]["stopped_at_step"] = s + 1
            log["teacher"]["epochs"] = round((s + 1) / steps_per_epoch, 2)
        if (s + 1) % (steps_per_epoch * max(1, epochs // 8)) == 0 or s + 1 == total or late:
            loss = float(loss_t)
            val = accuracy(predict(model, data["val"][0], args.amp), data["val"][1])
            ep = (s + 1) / steps_per_epoch
            log["teacher"]["evals"].append(
                {"epoch": ep, "loss": loss, "val_accuracy": val, "elapsed_s": clock.elapsed()}
            )
            print(
                f"teacher epoch {ep:.0f}/{epochs}: loss {loss:.3f}, val {val:.4f} ({clock.elapsed():.0f} s)",
                flush=True,
            )
        if late:
            break
    log["teacher"]["train_s"] = time.perf_counter() - t0
    precise_bn(model, x, min(len(x), args.bn_images), 256)  # its labels come from eval mode: clean statistics
    return model


class EMA:
    """Exponential moving average of a model's parameters and buffers."""

    def __init__(self, model: LightResNet, decay: float) -> None:
        self.decay, self.updates = decay, 0
        self.model = LightResNet(model.filters, model.blocks).to(next(model.parameters()).device)
        self.model.load_state_dict(model.state_dict())
        self.model.to(memory_format=torch.channels_last)
        self.model.eval()

    @torch.no_grad()
    def update(self, model: LightResNet) -> None:
        """One step; the decay ramps up as (1 + n) / (10 + n) to ``decay`` (short runs: recent weights)."""
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        mine, theirs = self.model.state_dict(), model.state_dict()
        floats = [k for k, v in mine.items() if v.dtype.is_floating_point]
        torch._foreach_lerp_([mine[k] for k in floats], [theirs[k].detach() for k in floats], 1 - decay)
        for k, v in mine.items():
            if not v.dtype.is_floating_point:
                v.copy_(theirs[k])


@torch.no_grad()
def precise_bn(model: torch.nn.Module, x_u8: torch.Tensor, n: int, batch: int) -> None:
    """Batch-norm running statistics re-estimated on ``n`` clean training tiles (cumulative mean)."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    idx = torch.randperm(len(x_u8), device=x_u8.device)[:n]
    for i in range(0, len(idx), batch):
        model(
            x_u8[idx[i : i + batch]].permute(0, 3, 1, 2).float().contiguous(memory_format=torch.channels_last)
        )
    for m in bns:
        m.momentum = 0.1
    model.eval()


def distil(
    data: dict,
    teacher: torch.nn.Module,
    args: argparse.Namespace,
    device: torch.device,
    clock: Clock,
    log: dict,
    out: Path,
) -> LightResNet:
    """Function matching: the student learns the teacher's probabilities on fresh mixed tiles."""
    x, _ = data["train"]
    g = torch.Generator(device=device).manual_seed(args.seed + 1)
    student = LightResNet(args.student_filters, tuple(args.student_blocks)).to(device)
    if args.init_student:
        load_keras_arrays(student, dict(np.load(args.init_student)))
    student = student.to(memory_format=torch.channels_last)
    start_val = accuracy(predict(student, data["val"][0], False), data["val"][1])
    print(f"student before distillation: val {start_val:.4f}", flush=True)
    opt = torch.optim.AdamW(  # no decay of batch-norm scales and shifts or biases
        [
            {"params": [p for p in student.parameters() if p.ndim > 1]},
            {"params": [p for p in student.parameters() if p.ndim <= 1], "weight_decay": 0.0},
        ],
        lr=args.student_lr,
        weight_decay=args.student_wd,
    )
    bs = min(args.batch, len(x))
    steps_per_epoch = max(1, len(x) // bs)
    rng = np.random.default_rng(args.seed + 1)

    def step(lr: float = 0.0) -> torch.Tensor:
        idx = torch.randint(0, len(x), (bs,), generator=g, device=device)
        xb = augment(x[idx], g, args.min_scale, 0.1)
        xb, _ = mix(xb, None, g, rng)
        xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.no_grad(), autocast(device, args.amp):
            target = torch.softmax(teacher(xb).float() / args.temperature, 1)
        for group in opt.param_groups:
            group["lr"] = lr
        student.train()
        with autocast(device, args.amp):
            logp = torch.log_softmax(student(xb).float() / args.temperature, 1)
        loss = F.kl_div(logp, target, reduction="batchmean") * args.temperature**2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ema.update(student)  # in the timed steps too (it is part of a step's cost); restarted after them
        return loss.detach()

    ema = EMA(student, args.ema_decay)
    step_s = timed_steps(step, 10, device)
    opt.state.clear()
    ema = EMA(student, args.ema_decay)  # after the timing steps (lr 0: only BN statistics moved)
    budget = clock.left() - args.reserve_s
    epochs = steps_for(budget, step_s, steps_per_epoch, 1, args.max_student_epochs)
    total = epochs * steps_per_epoch
    print(
        f"student: {step_s * 1000:.0f} ms/step of {bs} (teacher included); {epochs} epochs in {budget:.0f} s",
        flush=True,
    )
    log["student"] = {
        "filters": args.student_filters,
        "blocks": list(args.student_blocks),
        "epochs": epochs,
        "step_s": step_s,
        "init": None if args.init_student is None else str(args.init_student),
        "val_accuracy_at_start": start_val,
        "evals": [],
    }
    every = steps_per_epoch * max(1, epochs // 10)
    t0, started = time.perf_counter(), clock.elapsed()
    for s in range(total):
        done = progress(s, total, started, budget, clock)
        loss_t = step(cosine_lr(int(done * total), total, args.student_lr, 2 * steps_per_epoch))
        late = (done >= 1 or clock.left() < args.reserve_s) and s + 1 < total
        if late:
            log["student"]["stopped_at_step"] = s + 1
            log["student"]["epochs"] = round((s + 1) / steps_per_epoch, 2)
        if (s + 1) % every == 0 or s + 1 == total or late:
            loss = float(loss_t)
            last = s + 1 == total or late
            if last:
                precise_bn(ema.model, x, min(len(x), args.bn_images), 256)
            p = predict(ema.model, data["val"][0], args.amp and not last)
            val = accuracy(p, data["val"][1])
            ep = (s + 1) / steps_per_epoch
            log["student"]["evals"].append(
                {
                    "epoch": ep,
                    "loss": loss,
                    "val_accuracy_ema": val,
                    "precise_bn": last,
                    "elapsed_s": clock.elapsed(),
                }
            )
            print(
                f"student epoch {ep:.0f}/{epochs}: loss {loss:.4f}, val (EMA) {val:.4f} "
                f"({clock.elapsed():.0f} s)",
                flush=True,
            )
            save_student(ema.model, out)
            write_log(log, out)
        if late:
            break
    log["student"]["train_s"] = time.perf_counter() - t0
    return ema.model


def save_student(model: LightResNet, out: Path) -> None:
    """``out/student.npz`` (Keras layout), written whole or not at all."""
    tmp = out / "student.npz.tmp"
    with tmp.open("wb") as f:
        np.savez(f, **keras_arrays(model))
    tmp.replace(out / "student.npz")


def write_log(log: dict, out: Path) -> None:
    tmp = out / "log.json.tmp"
    tmp.write_text(json.dumps(log, indent=1, default=str))  # a Path or a tensor scalar must not end the run
    tmp.replace(out / "log.json")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path(".gpu/EuroSAT_RGB.zip"))
    p.add_argument("--split", type=Path, default=HERE.parent / "splits" / "eurosat_rgb_split.csv")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--budget-s", type=float, default=480, help="wall clock for everything, data included")
    p.add_argument("--teacher-share", type=float, default=0.45, help="of the time left after loading")
    p.add_argument("--reserve-s", type=float, default=25, help="kept for the final scoring and files")
    p.add_argument("--device", default="auto")
    p.add_argument("--subset", type=float, default=1.0, help="fraction of each split (smoke runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--synthetic", type=int, default=0, help="N random training tiles instead of the data")
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--no-amp", dest="amp", action="store_false", help="float32 instead of bf16 autocast")
    p.add_argument("--teacher-width", type=int, default=64)
    p.add_argument("--teacher-lr", type=float, default=0.2)
    p.add_argument("--max-teacher-epochs", type=int, default=200)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--mix-prob", type=float, default=0.5, help="teacher batches mixed (mixup/CutMix)")
    p.add_argument("--min-scale", type=float, default=0.6, help="smallest random crop, share of the side")
    p.add_argument("--student-filters", type=int, default=32)
    p.add_argument("--student-blocks", type=int, nargs="+", default=[3, 3, 3])
    p.add_argument("--student-lr", type=float, default=3e-3)
    p.add_argument("--student-wd", type=float, default=0.02)
    p.add_argument("--max-student-epochs", type=int, default=1000)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--ema-decay", type=float, default=0.999)
    p.add_argument("--bn-images", type=int, default=8192)
    p.add_argument(
        "--init-student", type=Path, default=None, help="Keras-layout .npz to start the student from"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    clock = Clock(args.budget_s)
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    log: dict = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or "cpu",
    }
    if args.synthetic:
        arrays = synthetic_split(args.synthetic, args.seed)
        paths = {k: [f"synthetic/{i}" for i in range(len(y))] for k, (_, y) in arrays.items()}
    else:
        arrays, paths = load_split(args.data, args.split, args.subset, args.seed)
    data = {
        k: (torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)) for k, (x, y) in arrays.items()
    }
    log["images"] = {k: len(v[1]) for k, v in data.items()}
    log["load_s"] = clock.elapsed()
    print(f"{log['device']}: {log['images']} images loaded in {log['load_s']:.1f} s", flush=True)

    teacher = train_teacher(data, args, device, clock, log)
    probs = {k: predict(teacher, x, args.amp, views=8) for k, (x, _) in data.items()}
    log["teacher"]["accuracy_8_views"] = {k: accuracy(probs[k], data[k][1]) for k in ("val", "test")}
    log["teacher"]["accuracy_1_view"] = {
        k: accuracy(predict(teacher, data[k][0], args.amp), data[k][1]) for k in ("val", "test")
    }
    print(
        f"teacher: {log['teacher']['accuracy_1_view']} single view, {log['teacher']['accuracy_8_views']} "
        "8 views",
        flush=True,
    )
    np.savez_compressed(  # the paths say which image each row is (Class/Class_n.jpg, as in the split)
        args.out / "teacher_probs.npz",
        **{k: v.cpu().numpy().astype(np.float16) for k, v in probs.items()},
        **{f"{k}_paths": np.array(v) for k, v in paths.items()},
    )
    write_log(log, args.out)

    student = distil(data, teacher, args, device, clock, log, args.out)
    log["student"]["accuracy_1_view"] = {
        k: accuracy(predict(student, data[k][0], False), data[k][1]) for k in ("val", "test")
    }
    log["elapsed_s"] = clock.elapsed()
    save_student(student, args.out)
    write_log(log, args.out)
    print(
        f"student (float32): {log['student']['accuracy_1_view']}; all done in {clock.elapsed():.0f} s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
