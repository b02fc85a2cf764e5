#!/usr/bin/env python3
"""Writes the delta benchmark's store: two releases of a 10-image set
(stdlib only).

  make-delta-set.py STORE [--images N] [--base-mb A,B,C] [--own-mb M] [--new-mb K]

In STORE's index.json (names HOST/delta/...):
  imgNN:1     N images on shared base layers (MiB sizes A,B,C), each with one
              own layer of M MiB: release 1
  img00:2     img00:1 plus a new top layer of K MiB: release 2 is img00:2 and
              img01:1 ... imgNN:1 (one image of N changed)
  newonly:1   an image of the new layer alone: a full pack of the same new
              blob, the delta's reference
Same arguments, same bytes (layers as make-bench-images.py makes them).
"""
import argparse, importlib.util, os

spec = importlib.util.spec_from_file_location(
    "mbi", os.path.join(os.path.dirname(os.path.abspath(__file__)), "make-bench-images.py"))
mbi = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mbi)
MIB = 1 << 20


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--images", type=int, default=10)
    ap.add_argument("--base-mb", default="60,30,10")
    ap.add_argument("--own-mb", type=int, default=20)
    ap.add_argument("--new-mb", type=int, default=20)
    ap.add_argument("--registry", default="bench.local")
    a = ap.parse_args()
    lay = mbi.Layout(a.store)
    base = [lay.put_layer(300 + i, int(mb) * MIB) for i, mb in enumerate(a.base_mb.split(","))]
    own = [lay.put_layer(3000 + i, a.own_mb * MIB) for i in range(a.images)]
    for i in range(a.images):
        lay.image("%s/delta/img%02d:1" % (a.registry, i), base + [own[i]])
    new = lay.put_layer(3999, a.new_mb * MIB)
    lay.image("%s/delta/img00:2" % a.registry, base + [own[0], new])
    lay.image("%s/delta/newonly:1" % a.registry, [new])
    lay.close()


if __name__ == "__main__":
    main()
