#!/usr/bin/env python3
"""An independent NumPy implementation of `evaluate`'s quality figures, for cross-checking.

    python3 bench/quality_reference.py --real REAL.npy --fake FAKE.npy [--count N] [--seed S] [--floor]

REAL / FAKE: uint8 .npy files of shape (N, S, S, 3), or shard directories (index.json). Prints one
JSON line with the keys `evaluate` prints (swd_<res>, swd_mean, [swd_floor_*], ms_ssim_fake,
ms_ssim_real, count_real, count_fake, seed, seconds), numbers with 10 significant digits.

Written from the papers' definitions and docs/design-changes.md ("Quality figures"), not from the Swift
code: float64 throughout, 2D (not separable) convolutions on padded arrays, NumPy sorting. It
reimplements FaceEngine's RandomGenerator (xoshiro256** seeded by SplitMix64, Lemire's bounded
integers, Box-Muller normals) so that it makes exactly the draws the Swift code makes. Slow (pure
Python random numbers): meant for a few hundred images.
"""
import argparse
import json
import math
import os
import sys
import time

try:
    import numpy as np
except ImportError:  # pragma: no cover
    sys.stderr.write("quality_reference.py needs NumPy (python3 -m pip install numpy)\n")
    sys.exit(3)

MASK = (1 << 64) - 1


class RandomGenerator:
    """xoshiro256**, state from SplitMix64 (as FaceEngine's RandomGenerator)."""

    def __init__(self, seed):
        words, value = [], seed & MASK
        for _ in range(4):
            value = (value + 0x9E3779B97F4A7C15) & MASK
            z = value
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            words.append(z ^ (z >> 31))
        self.s = words

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK

    def next(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def uniform_double(self):
        return (self.next() >> 11) * 2.0 ** -53

    def integer(self, bound):
        product = self.next() * bound
        if (product & MASK) < bound:
            threshold = ((1 << 64) - bound) % bound
            while (product & MASK) < threshold:
                product = self.next() * bound
        return product >> 64

    def normals(self, count):
        out = np.empty(count, dtype=np.float32)
        index = 0
        while index < count:
            u1 = 1.0 - self.uniform_double()
            u2 = self.uniform_double()
            radius = math.sqrt(-2.0 * math.log(u1))
            out[index] = radius * math.cos(2.0 * math.pi * u2)
            if index + 1 < count:
                out[index + 1] = radius * math.sin(2.0 * math.pi * u2)
            index += 2
        return out

    def permutation(self, count):
        order = list(range(count))
        index = count - 1
        while index > 0:
            other = self.integer(index + 1)
            order[index], order[other] = order[other], order[index]
            index -= 1
        return order


STREAMS = {"real_selection": 1, "fake_selection": 2, "floor_split": 3, "fake_pairs": 4, "real_pairs": 5,
           "real_positions": 16, "fake_positions": 32, "floor_positions_a": 48, "floor_positions_b": 64,
           "directions": 80}


def stream(seed, name, level=0):
    return RandomGenerator(seed ^ (((STREAMS[name] + level) * 0xD1B54A32D192ED03) & MASK))


# ---------------------------------------------------------------- Laplacian pyramid (float64, 2D)

BINOMIAL = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]).astype(np.float64) / 256.0


def convolve_mirror(images, kernel):
    """images [N, C, H, W]; 5x5 kernel; boundary: reflect without repeating the edge sample."""
    padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)), mode="reflect")
    height, width = images.shape[2], images.shape[3]
    out = np.zeros_like(images)
    for dy in range(5):
        for dx in range(5):
            out += kernel[dy, dx] * padded[:, :, dy:dy + height, dx:dx + width]
    return out


def pyramid_down(images):
    return convolve_mirror(images, BINOMIAL)[:, :, ::2, ::2]


def pyramid_up(images):
    n, c, h, w = images.shape
    inserted = np.zeros((n, c, 2 * h, 2 * w))
    inserted[:, :, ::2, ::2] = images
    return convolve_mirror(inserted, 4.0 * BINOMIAL)


def laplacian_pyramid(images, levels):
    gaussians = [images.astype(np.float64)]
    for _ in range(1, levels):
        gaussians.append(pyramid_down(gaussians[-1]))
    return [gaussians[i] - pyramid_up(gaussians[i + 1]) for i in range(levels - 1)] + [gaussians[-1]]


# ---------------------------------------------------------------- SWD

def resolutions(size):
    out = []
    while size >= 16:
        out.append(size)
        size //= 2
    return out


def descriptors(level_images, random):
    n, _, side, _ = level_images.shape
    m = min(128 * n, 1 << 18)
    out = np.empty((m, 3, 7, 7))
    for index in range(m):
        x = 3 + random.integer(side - 6)
        y = 3 + random.integer(side - 6)
        out[index] = level_images[index % n, :, y - 3:y + 4, x - 3:x + 4]
    out -= out.mean(axis=(0, 2, 3), keepdims=True)
    deviation = out.std(axis=(0, 2, 3), keepdims=True)
    out /= np.where(deviation > 0, deviation, 1.0)
    return out.reshape(m, -1)


def swd_levels(images_a, name_a, images_b, name_b, seed):
    levels = len(resolutions(images_a.shape[1]))
    pyramid_a = laplacian_pyramid(images_a.transpose(0, 3, 1, 2), levels)
    pyramid_b = laplacian_pyramid(images_b.transpose(0, 3, 1, 2), levels)
    result = []
    for level in range(levels):
        a = descriptors(pyramid_a[level], stream(seed, name_a, level))
        b = descriptors(pyramid_b[level], stream(seed, name_b, level))
        directions = stream(seed, "directions", level).normals(512 * 147).reshape(512, 147).astype(np.float64)
        directions /= np.sqrt((directions ** 2).sum(axis=1, keepdims=True))
        projected_a = np.sort(a @ directions.T, axis=0)
        projected_b = np.sort(b @ directions.T, axis=0)
        # 4 repeats of 128 directions: the mean of the repeats' means.
        repeats = [np.abs(projected_a[:, r * 128:(r + 1) * 128] - projected_b[:, r * 128:(r + 1) * 128]).mean()
                   for r in range(4)]
        result.append(1e3 * float(np.mean(repeats)))
    return result


# ---------------------------------------------------------------- MS-SSIM (float64, 2D windows)

WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]


def gaussian_window(size):
    sigma = size * 1.5 / 11
    offsets = np.arange(size) - (size - 1) / 2.0
    yy, xx = np.meshgrid(offsets, offsets, indexing="ij")
    window = np.exp(-(xx ** 2 + yy ** 2) / (2 * sigma ** 2))
    return window / window.sum()


def filter_valid(image, window):
    """image [H, W, C]; 'valid' 2D filtering per channel."""
    views = np.lib.stride_tricks.sliding_window_view(image, window.shape, axis=(0, 1))  # [h, w, C, k, k]
    return np.einsum("hwcij,ij->hwc", views, window)


def ms_ssim(a, b):
    size = a.shape[0]
    scales = 1
    while scales < 5 and size >> scales >= 4:
        scales += 1
    weights = WEIGHTS if scales == 5 else [w / sum(WEIGHTS[:scales]) for w in WEIGHTS[:scales]]
    x, y = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    result = 1.0
    for scale in range(scales):
        window = gaussian_window(min(11, x.shape[0]))
        mu1, mu2 = filter_valid(x, window), filter_valid(y, window)
        s11 = filter_valid(x * x, window) - mu1 * mu1
        s22 = filter_valid(y * y, window) - mu2 * mu2
        s12 = filter_valid(x * y, window) - mu1 * mu2
        cs_map = (2 * s12 + c2) / (s11 + s22 + c2)
        ssim = float(np.mean((2 * mu1 * mu2 + c1) / (mu1 ** 2 + mu2 ** 2 + c1) * cs_map))
        cs = float(np.mean(cs_map))
        if scale == scales - 1:
            result *= max(ssim, 0.0) ** weights[scale]
        else:
            result *= max(cs, 0.0) ** weights[scale]
            x = (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2]) / 4
            y = (y[0::2, 0::2] + y[1::2, 0::2] + y[0::2, 1::2] + y[1::2, 1::2]) / 4
    return result


def ms_ssim_set(images, random):
    order = random.permutation(len(images))
    pairs = [(order[2 * k], order[2 * k + 1]) for k in range(min(len(images) // 2, 5000))]
    return float(np.mean([ms_ssim(images[i], images[j]) for i, j in pairs]))


# ---------------------------------------------------------------- sets

def load(path):
    if os.path.isdir(path):
        with open(os.path.join(path, "index.json")) as handle:
            index = json.load(handle)
        return np.concatenate([np.load(os.path.join(path, shard["file"])) for shard in index["shards"]])
    return np.load(path)


def select(images, count, random):
    if len(images) < count:
        raise SystemExit("a set holds %d images, fewer than --count %d" % (len(images), count))
    if len(images) == count:
        return images
    return images[sorted(random.permutation(len(images))[:count])]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real", required=True)
    parser.add_argument("--fake", required=True)
    parser.add_argument("--count", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--floor", action="store_true")
    arguments = parser.parse_args()
    start = time.time()
    real_all, fake_all = load(arguments.real), load(arguments.fake)
    seed = arguments.seed
    count = arguments.count or min(len(real_all), len(fake_all))
    real = select(real_all, count, stream(seed, "real_selection"))
    fake = select(fake_all, count, stream(seed, "fake_selection"))
    size = real.shape[1]
    swd = swd_levels(real, "real_positions", fake, "fake_positions", seed)
    figures = {}
    for resolution, value in zip(resolutions(size), swd):
        figures["swd_%d" % resolution] = value
    figures["swd_mean"] = float(np.mean(swd))
    if arguments.floor:
        half = min(count, len(real_all) // 2)
        order = stream(seed, "floor_split").permutation(len(real_all))
        half_a, half_b = real_all[sorted(order[:half])], real_all[sorted(order[half:2 * half])]
        floor = swd_levels(half_a, "floor_positions_a", half_b, "floor_positions_b", seed)
        for resolution, value in zip(resolutions(size), floor):
            figures["swd_floor_%d" % resolution] = value
        figures["swd_floor_mean"] = float(np.mean(floor))
    figures["ms_ssim_fake"] = ms_ssim_set(fake, stream(seed, "fake_pairs"))
    figures["ms_ssim_real"] = ms_ssim_set(real, stream(seed, "real_pairs"))
    figures["count_real"] = len(real)
    figures["count_fake"] = len(fake)
    figures["seed"] = seed
    figures["seconds"] = time.time() - start
    print("{" + ", ".join('"%s": %s' % (key, ("%.10g" % value) if isinstance(value, float) else value)
                          for key, value in figures.items()) + "}")


if __name__ == "__main__":
    main()
