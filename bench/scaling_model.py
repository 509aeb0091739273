#!/usr/bin/env python3
"""docs/scaling.md's model: predicted seconds per generator iteration of data-parallel `train` on N
nodes, from one line of bench/scaling_bench.sh (measured compute at each per-rank batch, measured
gradient buffer sizes) and an assumed network (bandwidth, per-message latency).

    sh bench/scaling_bench.sh > scaling.json && python3 bench/scaling_model.py scaling.json

Per iteration (5 critic steps and 1 generator step of a global batch of 64):
  compute(N)   = measured iteration time of one rank at per-rank batch 64/N (whole node's threads)
  gradients(N) = 5 * ring(critic bytes) + ring(generator bytes),
                 ring(S) = 2 (N-1)/N * S / bandwidth + 2 (N-1) * latency   (ring allreduce)
  small(N)     = K * 2 log2(N) * latency: the K small sums of an iteration (loss terms, synchronised
                 BatchNorm statistics and backward sums, the stop signal), recursive doubling
  T(N) = compute(N) + gradients(N) + small(N); speedup T(1)/T(N); efficiency speedup/N.
Nothing overlaps communication with computation (the sums run between the backward and Adam).
"""
import json, math, sys

line = json.loads(open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read())
latency = float(sys.argv[2]) if len(sys.argv) > 2 else 50e-6
compute = {int(b): t for b, t in line["rank_compute_iteration_s"].items()}
critic, generator = line["critic_gradient_bytes"], line["generator_gradient_bytes"]
size = line["size"]
bn_layers = int(math.log2(size)) - 2
# Per iteration: 6 loss sums; 6 training-mode generator forwards x 2 sums per BatchNorm layer; 1 sum
# per layer in the generator's backward; 1 stop-signal maximum.
small_count = 6 + 6 * 2 * bn_layers + bn_layers + 1

def predicted(n, gbit):
    bandwidth = gbit * 1e9 / 8
    ring = lambda s: 0 if n == 1 else 2 * (n - 1) / n * s / bandwidth + 2 * (n - 1) * latency
    gradients = 5 * ring(critic) + ring(generator)
    small = 0 if n == 1 else small_count * 2 * math.log2(n) * latency
    return compute[64 // n], gradients + small

print(f"Inputs measured at {size}x{size}: per-rank compute {json.dumps(line['rank_compute_iteration_s'])} s per iteration; "
      f"critic gradients {critic / 1e6:.2f} MB, generator gradients {generator / 1e6:.2f} MB; "
      f"latency assumed {latency * 1e6:.0f} us per message, {small_count} small sums per iteration.\n")
print("| N | per-rank batch | compute s | 10 Gbit/s: comm s | iteration s | speedup | efficiency | 25 Gbit/s: comm s | iteration s | speedup | efficiency |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
base = compute[64]
for n in [1, 2, 4, 8, 16, 32, 64]:
    cells = [str(n), str(64 // n), f"{compute[64 // n]:.3f}"]
    for gbit in (10, 25):
        c, comm = predicted(n, gbit)
        total = c + comm
        cells += [f"{comm:.3f}", f"{total:.3f}", f"{base / total:.2f}", f"{base / total / n:.0%}"]
    print("| " + " | ".join(cells) + " |")
