"""Fine-tuning loop shared by the torch families: seeded batches, AdamW with linear warm-up,
bf16 autocast on CUDA, progress callbacks, and checkpoints that make an interrupted run resume
to the same weights it would have reached uninterrupted."""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sentimentops.training.config import OptimConfig
from sentimentops.training.families.base import FitContext, FloatArray, IntArray
from sentimentops.training.families.encoding import Encoder

CHECKPOINT_FILE = "checkpoint.pt"


def pick_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_name(device: torch.device) -> str:
    """The GPU's name ("NVIDIA H200") or "cpu", as model cards report it."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA) before a model is built."""
    random.seed(seed)
    np.random.seed(seed)  # libraries below us may read the global generator
    torch.manual_seed(seed)


def learning_rate(step: int, total: int, optim: OptimConfig) -> float:
    """The rate of optimiser step `step` (0-based): linear warm-up, then linear decay to 0."""
    warmup = int(optim.warmup_ratio * total)
    if step < warmup:
        return optim.learning_rate * (step + 1) / warmup
    if not optim.decay:
        return optim.learning_rate
    return optim.learning_rate * max(0.0, (total - step) / max(1, total - warmup))


# Batches are formed from windows of this many batches' worth of shuffled rows, sorted by length
# inside the window: batches of similar lengths pad little (on CPU, a mixture of tweets and
# forum posts trained about twice as fast), while every window is still a random draw.
BUCKET_WINDOW_BATCHES = 50


def _batch_order(
    n: int, batch_size: int, seed: int, epoch: int, lengths: Sequence[int] | None = None
) -> list[np.ndarray]:
    # One seeded permutation per epoch, so a resumed run sees exactly the batches it would have.
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n)
    if lengths is None:
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    window = batch_size * BUCKET_WINDOW_BATCHES
    batches: list[np.ndarray] = []
    for start in range(0, n, window):
        chunk = order[start : start + window]
        chunk = chunk[np.argsort([lengths[i] for i in chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def _to_device(
    encoder: Encoder, rows: Sequence[Sequence[int]], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    ids, mask = encoder.pad(rows)
    return torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)


@dataclass(frozen=True)
class LoopResult:
    """What the loop did."""

    steps: int
    resumed_at_step: int
    final_loss: float
    # Time in the loop, the runs before a resume included (a fit finished elsewhere and
    # adopted here keeps that machine's time).
    seconds: float
    # Where the steps ran: the GPU's name or "cpu" (the last machine when a resume moved).
    trained_on: str


def _save_checkpoint(path: Path, state: dict[str, object]) -> None:
    # Write then rename: a kill during the write leaves the previous checkpoint intact.
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    os.replace(partial, path)


def fine_tune(
    module: nn.Module,
    *,
    rows: Sequence[Sequence[int]],
    targets: IntArray,
    encoder: Encoder,
    optim: OptimConfig,
    seed: int,
    device: torch.device,
    context: FitContext,
    fingerprint: str,
) -> LoopResult:
    """Train `module` (forward(input_ids, attention_mask) → logits) in place."""
    started = time.perf_counter()
    module.to(device)
    decay = [p for p in module.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in module.parameters() if p.requires_grad and p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": optim.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},  # biases and norms are not shrunk
        ],
        lr=optim.learning_rate,
    )
    per_epoch = math.ceil(len(rows) / optim.batch_size)
    total = per_epoch * optim.epochs
    start_step = 0
    smoothed = float("nan")
    earlier_seconds = 0.0
    trained_on = device_name(device)
    checkpoint = context.checkpoint_dir / CHECKPOINT_FILE if context.checkpoint_dir else None
    if checkpoint is not None and context.resume and checkpoint.is_file():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        if state.get("fingerprint") == fingerprint and state.get("total_steps") == total:
            module.load_state_dict(state["model"])
            if "optimizer" in state:  # the final checkpoint has none: nothing trains after it
                optimizer.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["torch_rng"].cpu())
            if device.type == "cuda" and state.get("cuda_rng") is not None:
                torch.cuda.set_rng_state(state["cuda_rng"].cpu(), device)
            start_step = int(state["step"])
            smoothed = float(state.get("loss", float("nan")))
            earlier_seconds = float(state.get("seconds", 0.0))
            if start_step == total:
                trained_on = str(state.get("trained_on", trained_on))
            context.on_step(f"resuming from the checkpoint at step {start_step:,} of {total:,}")
        else:
            context.on_step("the checkpoint belongs to another training: starting afresh")
    autocast = device.type == "cuda" and optim.cuda_precision == "bf16"
    loss_fn = nn.CrossEntropyLoss()
    target_tensor = torch.from_numpy(np.array(targets, dtype=np.int64))  # a copy: may be read-only
    module.train()
    context.on_progress("training", start_step, total)
    lengths = [len(r) for r in rows]
    epoch_batches: tuple[int, list[np.ndarray]] | None = None
    for step in range(start_step, total):
        epoch, index = divmod(step, per_epoch)
        if epoch_batches is None or epoch_batches[0] != epoch:
            epoch_batches = (epoch, _batch_order(len(rows), optim.batch_size, seed, epoch, lengths))
        batch = epoch_batches[1][index]
        ids, mask = _to_device(encoder, [rows[i] for i in batch], device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, total, optim)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = module(ids, mask)
        loss = loss_fn(logits.float(), target_tensor[batch].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(module.parameters(), optim.max_grad_norm)
        optimizer.step()
        value = float(loss.detach())
        smoothed = value if math.isnan(smoothed) else 0.95 * smoothed + 0.05 * value
        done = step + 1
        # The last step is checkpointed too: a crash during export or evaluation then resumes
        # without retraining, and a fit run on another machine is adopted through it
        # (training/remote_fit.py). It holds the weights alone, a third of the size: nothing
        # trains after it. The service deletes the folder once the run is recorded.
        if checkpoint is not None and (done % optim.checkpoint_every_steps == 0 or done == total):
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            state = {
                "fingerprint": fingerprint,
                "total_steps": total,
                "step": done,
                "loss": smoothed,
                "seconds": earlier_seconds + time.perf_counter() - started,
                "trained_on": trained_on,
                "model": module.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            }
            if done < total:
                state["optimizer"] = optimizer.state_dict()
            _save_checkpoint(checkpoint, state)
        context.on_progress(
            f"training · epoch {epoch + 1}/{optim.epochs} · loss {smoothed:.3f}", done, total
        )
    module.eval()
    seconds = earlier_seconds + time.perf_counter() - started
    return LoopResult(total, start_step, smoothed, seconds, trained_on)


@torch.no_grad()
def predict_logits(
    module: nn.Module,
    rows: Sequence[Sequence[int]],
    *,
    encoder: Encoder,
    batch_size: int,
    device: torch.device,
) -> np.ndarray:
    """fp32 logits in input order; batches of similar length to waste little padding."""
    module.eval()
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    out: list[np.ndarray] = []
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        ids, mask = _to_device(encoder, [rows[i] for i in chunk], device)
        out.append(module(ids, mask).float().cpu().numpy())
    logits = np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)
    result = np.empty_like(logits)
    result[order] = logits
    return result


def softmax(logits: np.ndarray) -> FloatArray:
    """Row-wise softmax in float64."""
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    probabilities: FloatArray = e / e.sum(axis=1, keepdims=True)
    return probabilities
