#!/usr/bin/env python3
"""Checks `train probe` against PyTorch autograd (double backward), tensor by tensor.

Builds DESIGN.md's generator and critic in PyTorch with our parameter names, writes a probe input
(random weights, real images, z, t), runs `train probe`, and compares every loss and gradient with
PyTorch's in float64. Prints OK / NOT OK per tensor with the relative error (max |a-b| / max |b|).

    python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch safetensors numpy
    /tmp/torch/bin/python bench/probe_pytorch.py --train .build/release/train --size 32 --critic-norm layer
"""
import argparse
import copy
import math
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file


class Generator(nn.Module):
    def __init__(self, size, width, z_dim):
        super().__init__()
        n = int(math.log2(size)) - 2
        self.top = width * 2 ** (n - 1)
        self.fc = nn.Linear(z_dim, self.top * 16)
        self.bn0 = nn.BatchNorm2d(self.top)
        c = self.top
        for i in range(1, n):
            setattr(self, f"up{i}", nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False))
            setattr(self, f"bn{i}", nn.BatchNorm2d(c // 2))
            c //= 2
        self.out = nn.ConvTranspose2d(c, 3, 4, 2, 1)
        self.n = n

    def forward(self, z):
        h = torch.relu(self.bn0(self.fc(z).view(-1, self.top, 4, 4)))
        for i in range(1, self.n):
            h = torch.relu(getattr(self, f"bn{i}")(getattr(self, f"up{i}")(h)))
        return torch.tanh(self.out(h))


class Critic(nn.Module):
    def __init__(self, size, width, norm):
        super().__init__()
        n = int(math.log2(size)) - 2
        c, s = 3, size
        for i in range(1, n + 1):
            cout = width * 2 ** (i - 1)
            setattr(self, f"conv{i}", nn.Conv2d(c, cout, 4, 2, 1))
            s //= 2
            if i >= 2 and norm == "layer":
                setattr(self, f"norm{i}", nn.GroupNorm(1, cout, eps=1e-5))
            c = cout
        self.fc = nn.Linear(c * s * s, 1)
        self.n, self.norm = n, norm

    def forward(self, x):
        for i in range(1, self.n + 1):
            x = getattr(self, f"conv{i}")(x)
            if i >= 2 and self.norm == "layer":
                x = getattr(self, f"norm{i}")(x)
            x = nn.functional.leaky_relu(x, 0.2)
        return self.fc(x.flatten(1)).squeeze(1)


def losses_and_gradients(G, D, real, z, t, lam):
    """The probe's losses and gradients: G once in training mode; the critic loss with x~ = G(z) detached."""
    G.train()
    fake = G(z)
    x_hat = (t.view(-1, 1, 1, 1) * real + (1 - t.view(-1, 1, 1, 1)) * fake.detach()).requires_grad_(True)
    d_real, d_fake, d_hat = D(real), D(fake.detach()), D(x_hat)
    grad, = torch.autograd.grad(d_hat.sum(), x_hat, create_graph=True)
    norms = grad.float().flatten(1).norm(dim=1)
    penalty = lam * ((norms - 1) ** 2).mean()
    wasserstein = d_real.float().mean() - d_fake.float().mean()
    critic_loss = -wasserstein + penalty
    critic_grads = torch.autograd.grad(critic_loss, list(D.parameters()))
    generator_loss = -D(fake).float().mean()
    generator_grads = torch.autograd.grad(generator_loss, list(G.parameters()))
    result = {"loss.critic": critic_loss, "loss.wasserstein": wasserstein, "loss.penalty": penalty,
              "loss.generator": generator_loss}
    result.update({f"grad.critic.{n}": g for (n, _), g in zip(D.named_parameters(), critic_grads)})
    result.update({f"grad.generator.{n}": g for (n, _), g in zip(G.named_parameters(), generator_grads)})
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", default=".build/release/train")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--z-dim", type=int, default=16)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--critic-norm", default="layer", choices=["layer", "none"])
    ap.add_argument("--lam", type=float, default=10.0)
    ap.add_argument("--tolerance", type=float, default=1e-3, help="max relative error per tensor")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default="auto", help="train probe --backend (auto, blas, onednn)")
    ap.add_argument("--precision", default="fp32", help="train probe --precision (fp32, bf16: use --tolerance 2e-2)")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    G = Generator(args.size, args.width, args.z_dim)
    D = Critic(args.size, args.width, args.critic_norm)
    with torch.no_grad():  # move normalization parameters off 1 / 0 so every term shows
        for name, p in D.named_parameters():
            if name.startswith("norm"):
                p.add_(0.3 * torch.randn_like(p))
    B, S = args.batch, args.size
    real = torch.rand(B, 3, S, S) * 2 - 1
    z = torch.randn(B, args.z_dim)
    t = torch.rand(B)

    tensors = {"real": real, "z": z, "t": t}
    tensors.update({f"generator.{k}": v for k, v in G.state_dict().items() if "num_batches" not in k})
    tensors.update({f"critic.{k}": v for k, v in D.state_dict().items()})
    meta = {"image_size": str(S), "z_dim": str(args.z_dim), "width": str(args.width),
            "lambda": str(args.lam), "critic_norm": args.critic_norm}
    with tempfile.TemporaryDirectory() as tmp:
        save_file({k: v.contiguous().float() for k, v in tensors.items()}, f"{tmp}/in.safetensors", metadata=meta)
        subprocess.run([args.train, "probe", "--input", f"{tmp}/in.safetensors", "--output", f"{tmp}/out.safetensors",
                        "--backend", args.backend, "--precision", args.precision,
                        "--quiet"], check=True)
        ours = load_file(f"{tmp}/out.safetensors")

    # Reference in float64; with --precision bf16 also PyTorch's own bf16 autocast of the same
    # float32 networks, so that our bf16 error can be read against the peer's.
    autocast = None
    if args.precision == "bf16":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            autocast = losses_and_gradients(copy.deepcopy(G).float(), copy.deepcopy(D).float(),
                                            real.float(), z.float(), t.float(), args.lam)
    reference = losses_and_gradients(G.double(), D.double(), real.double(), z.double(), t.double(), args.lam)

    def relative_error(actual, expected):
        expected = expected.detach().double().reshape(-1)
        actual = actual.detach().double().reshape(-1)
        return (actual - expected).abs().max().item() / max(expected.abs().max().item(), 1e-12)

    failures = 0
    for name, expected in reference.items():
        error = relative_error(ours[name], expected)
        ok = error <= args.tolerance
        failures += not ok
        peer = f"  (PyTorch bf16 autocast {relative_error(autocast[name], expected):.2e})" if autocast else ""
        print(f"{'OK    ' if ok else 'NOT OK'} {name:32s} relative error {error:.2e}{peer}")
    print(f"{len(reference) - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
