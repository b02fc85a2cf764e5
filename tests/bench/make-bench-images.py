#!/usr/bin/env python3
"""Writes the benchmark image set as an OCI image layout (stdlib only).

  make-bench-images.py OUTDIR [--images N] [--base-mb A,B,C] [--own-mb M] [--huge-mb H]

N images share the base layers (sizes in MiB) and each has one own layer of
M MiB; "huge" has one layer of H MiB (0: none). Layer data is random (as
compressed layers are), stored in gzip tar streams without compression so
the set is quick to make. Same arguments, same bytes.
"""
import argparse, hashlib, json, os, random, struct, zlib

MIB = 1 << 20


class Layout:
    def __init__(self, root):
        self.blobs = os.path.join(root, "blobs", "sha256")
        os.makedirs(self.blobs, exist_ok=True)
        self.root = root
        self.index = []
        with open(os.path.join(root, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')

    def put(self, data):
        d = hashlib.sha256(data).hexdigest()
        p = os.path.join(self.blobs, d)
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.write(data)
        return "sha256:" + d, len(data)

    def put_layer(self, seed, size):
        """A gzip member holding a one-file tar of random bytes (stored blocks)."""
        rnd = random.Random(seed)
        h = hashlib.sha256()
        diff = hashlib.sha256()
        tmp = os.path.join(self.blobs, ".tmp-%d" % seed)
        crc = 0
        raw_len = 0
        comp = zlib.compressobj(0, zlib.DEFLATED, -15)
        with open(tmp, "wb") as f:
            hdr = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
            f.write(hdr); h.update(hdr)

            def emit(raw):
                nonlocal crc, raw_len
                crc = zlib.crc32(raw, crc)
                raw_len += len(raw)
                diff.update(raw)
                c = comp.compress(raw)
                if c:
                    f.write(c); h.update(c)

            name = b"data/blob-%d" % seed
            th = bytearray(512)
            th[0:len(name)] = name
            th[100:108] = b"0000644\x00"
            th[108:116] = b"0000000\x00"
            th[116:124] = b"0000000\x00"
            th[124:136] = b"%011o\x00" % size
            th[136:148] = b"%011o\x00" % 1700000000
            th[156:157] = b"0"
            th[257:263] = b"ustar\x00"
            th[263:265] = b"00"
            th[148:156] = b"        "
            th[148:156] = b"%06o\x00 " % sum(th)
            emit(bytes(th))
            left = size
            while left > 0:
                n = min(left, 4 * MIB)
                emit(rnd.randbytes(n))
                left -= n
            pad = (512 - size % 512) % 512
            emit(b"\x00" * (pad + 1024))
            c = comp.flush()
            f.write(c); h.update(c)
            tail = struct.pack("<II", crc & 0xffffffff, raw_len & 0xffffffff)
            f.write(tail); h.update(tail)
            total = f.tell()
        digest = "sha256:" + h.hexdigest()
        os.rename(tmp, os.path.join(self.blobs, digest[7:]))
        return digest, total, "sha256:" + diff.hexdigest()

    def image(self, tag, layers):
        cfg = {"architecture": "amd64", "os": "linux", "created": "2023-11-14T22:13:20Z",
               "config": {}, "rootfs": {"type": "layers", "diff_ids": [l[2] for l in layers]}}
        cd, cs = self.put(json.dumps(cfg, separators=(",", ":")).encode())
        man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": l[0],
                           "size": l[1]} for l in layers]}
        md, ms = self.put(json.dumps(man, separators=(",", ":")).encode())
        self.index.append({"mediaType": man["mediaType"], "digest": md, "size": ms,
                           "annotations": {"org.opencontainers.image.ref.name": tag}})

    def close(self):
        with open(os.path.join(self.root, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": self.index}, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--images", type=int, default=12)
    ap.add_argument("--base-mb", default="60,30,10")
    ap.add_argument("--own-mb", type=int, default=20)
    ap.add_argument("--huge-mb", type=int, default=0)
    a = ap.parse_args()
    lay = Layout(a.out)
    base = [lay.put_layer(100 + i, int(mb) * MIB) for i, mb in enumerate(a.base_mb.split(","))]
    for i in range(a.images):
        lay.image("img%02d" % i, base + [lay.put_layer(1000 + i, a.own_mb * MIB)])
    if a.huge_mb:
        lay.image("huge", [lay.put_layer(5000, a.huge_mb * MIB)])
    lay.close()


if __name__ == "__main__":
    main()
