#!/usr/bin/env python3
"""Writes an edge store of many small images (stdlib only).

  make-small-store.py STORE [--images N] [--layer-kb K] [--registry HOST]

N images of two own layers of about K KiB each (random data in gzip tar
streams, as make-bench-images.py makes them), named HOST/small/imgNNN:1 in
the store's index.json, so that edge-pull --offline fills a manifest from
it without a registry. Same arguments, same bytes.
"""
import argparse, importlib.util, os

spec = importlib.util.spec_from_file_location(
    "mbi", os.path.join(os.path.dirname(os.path.abspath(__file__)), "make-bench-images.py"))
mbi = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mbi)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--images", type=int, default=150)
    ap.add_argument("--layer-kb", type=int, default=300)
    ap.add_argument("--registry", default="bench.local")
    a = ap.parse_args()
    lay = mbi.Layout(a.store)
    for i in range(a.images):
        # sizes spread around K KiB, as real small layers are
        layers = [lay.put_layer(20000 + 2 * i + k, (a.layer_kb * 1024 * (80 + (i * 7 + k * 13) % 41)) // 100)
                  for k in range(2)]
        lay.image("%s/small/img%03d:1" % (a.registry, i), layers)
    lay.close()


if __name__ == "__main__":
    main()
