#!/usr/bin/env python3
"""The Pillow baseline for `preprocess` (issue 3): decode, centre crop, LANCZOS resize, np.save.

    python3 bench/pillow_preprocess.py DIR --size 64 [--crop-size N] [--processes 2] [--out shard.npy]
    python3 bench/pillow_preprocess.py --enlarge SRC DST --factor 2   # make bigger test photos

Prints one JSON line: images, seconds, images_per_second. Pillow and numpy are installed with pip
into a venv under /tmp when they are missing (see bench/preprocess_bench.sh).
"""
import argparse, glob, json, os, sys, time
from multiprocessing import Pool

import numpy as np
from PIL import Image

SIZE = 64
CROP = None


def load(path):
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        s = CROP or min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        im = im.crop((left, top, left + s, top + s)).resize((SIZE, SIZE), Image.LANCZOS)
        return np.asarray(im, dtype=np.uint8)


def init(size, crop):
    global SIZE, CROP
    SIZE, CROP = size, crop


def enlarge(source, destination, factor, quality):
    os.makedirs(destination, exist_ok=True)
    for path in sorted(glob.glob(os.path.join(source, "*.jpg"))):
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.resize((im.width * factor, im.height * factor), Image.LANCZOS).save(
                os.path.join(destination, os.path.basename(path)), quality=quality)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("input", nargs="?")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--crop-size", type=int)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--out", default="/tmp/pillow_preprocess.npy")
    parser.add_argument("--enlarge", nargs=2, metavar=("SRC", "DST"))
    parser.add_argument("--factor", type=int, default=2)
    parser.add_argument("--quality", type=int, default=90)
    args = parser.parse_args()
    if args.enlarge:
        enlarge(args.enlarge[0], args.enlarge[1], args.factor, args.quality)
        return
    files = sorted(glob.glob(os.path.join(args.input, "*.jpg")))
    start = time.perf_counter()
    with Pool(args.processes, initializer=init, initargs=(args.size, args.crop_size)) as pool:
        images = pool.map(load, files, chunksize=64)
    np.save(args.out, np.stack(images))
    seconds = time.perf_counter() - start
    print(json.dumps({"tool": "pillow", "images": len(images), "seconds": round(seconds, 3),
                      "images_per_second": round(len(images) / seconds, 1)}))


if __name__ == "__main__":
    main()
