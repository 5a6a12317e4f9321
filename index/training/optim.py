"""The optimiser training uses: AdamW, linear warm-up, then linear decay to zero."""
from __future__ import annotations


def adamw_with_warmup(torch, params: list, learning_rate: float, steps: int, warmup: float):
    """(optimizer, scheduler): warm up over the first `warmup` share of `steps`, then decay linearly.

    Why warm-up: the tower starts from a good model; a full-size first step on a noisy batch would undo
    pretrained weights before the gradient has a direction."""
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.01)
    warm = max(1, int(warmup * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / steps))
    return optimizer, schedule


def take_step(optimizer, schedule, loss) -> float:
    """One optimisation step on `loss`; returns its value."""
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    schedule.step()
    return float(loss.detach())
