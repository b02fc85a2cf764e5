#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets, tests/fuzz/corpus/TARGET/,
from the project's fixtures and examples (python3 stdlib, and the built
bin/edge-pack and the zstd tool for the bundle seeds).

  tests/fuzz/make-corpus.py        (from the top directory, after make all)

Each seed starts with the byte that selects what the target does with the
rest (see the comment at the top of each tests/fuzz/fuzz_*.c). Seeds are
named seed-*; inputs kept from crashes are named crash-* and are not
touched here. Deterministic: the same tree gives the same files.
"""

import glob
import gzip
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(TOP, "tests", "fuzz", "corpus")
KEYS = os.path.join(TOP, "tests", "fuzz", "keys")


def reset(target):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    for f in glob.glob(os.path.join(d, "seed-*")):
        os.unlink(f)
    return d


def seed(d, name, sel, data):
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(bytes([sel]) + data)


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


# --- a tiny store, packed by edge-pack ----------------------------------------

def tiny_store(root):
    blobs = os.path.join(root, "blobs", "sha256")
    os.makedirs(blobs)

    def blob(data):
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, h), "wb") as f:
            f.write(data)
        return "sha256:" + h, len(data)

    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo("etc/hello")
        info.size, info.mtime = 6, 1700000000
        t.addfile(info, io.BytesIO(b"hello\n"))
    layer = gzip.compress(tbuf.getvalue(), mtime=0)
    ld, ls = blob(layer)
    cfg = canon({"architecture": "amd64", "os": "linux",
                 "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tbuf.getvalue()).hexdigest()]}})
    cd, cs = blob(cfg)
    man = canon({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                 "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                 "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls}]})
    md, ms = blob(man)
    ref = "docker.io/library/tiny:1"
    with open(os.path.join(root, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(root, "index.json"), "wb") as f:
        f.write(canon({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
                                      "size": ms, "annotations": {"org.opencontainers.image.ref.name": ref,
                                                                  "io.containerd.image.name": ref}}]}))
    return {"apiVersion": "edge.manifest/v1", "name": "tiny", "platforms": ["linux/amd64"],
            "images": [{"ref": ref, "from": [{"profile": "p", "pack": "tiny", "field": "pack.content.images"}],
                        "digest": md, "mediaType": "application/vnd.oci.image.manifest.v1+json", "size": ms,
                        "platforms": ["linux/amd64"]}],
            "charts": [], "store": root}


def bundle_seeds(tmp, manifests):
    d = reset("fuzz_bundle")
    store = os.path.join(tmp, "store")
    m = tiny_store(store)
    # relative to the manifest (in tmp): the seeds hold no temporary path
    m["store"] = "store"
    manifests.append(("tiny", m))
    mpath = os.path.join(tmp, "m.json")
    with open(mpath, "w") as f:
        json.dump(m, f)
    bpath = os.path.join(tmp, "tiny.tar.zst")
    ppath = os.path.join(tmp, "packed.json")
    with open(ppath, "wb") as out:
        subprocess.run([os.path.join(TOP, "bin", "edge-pack"), "-q", "-o", bpath, mpath], check=True,
                       stdout=out, env=dict(os.environ, SOURCE_DATE_EPOCH="0"))
    with open(bpath, "rb") as f:
        bundle = f.read()
    tar = subprocess.run(["zstd", "-dcq", bpath], check=True, stdout=subprocess.PIPE).stdout
    seed(d, "bundle", 0x00, bundle)
    seed(d, "tar-one-frame", 0x05, tar)
    seed(d, "tar-frames-seek", 0x06, tar)
    seed(d, "tar-frames-1k-checksums", 0x1e, tar)
    seed(d, "tar-table-mask", 0x07, struct.pack(">H", len(tar)) + tar)
    seed(d, "tar-table-flip", 0x07, struct.pack(">H", len(tar)) + tar + b"\0\0\0\0\0\0\0\0\x01")
    # a pax header with a long path and a size record, then a plain entry
    pax = io.BytesIO()
    with tarfile.open(fileobj=pax, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo("bundle.json")
        data = canon({"apiVersion": "edge.manifest/v1", "name": "x", "blobs": []})
        info.size = len(data)
        info.pax_headers = {"path": "bundle.json", "size": str(len(data))}
        t.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("blobs/sha256/" + "a" * 64 + "/" + "x" * 100)
        info.size = 3
        t.addfile(info, io.BytesIO(b"abc"))
    seed(d, "pax", 0x05, pax.getvalue())
    # hostile shapes: a link, a dot-dot name, a device
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, typ in (("../x", tarfile.REGTYPE), ("l", tarfile.SYMTYPE), ("c", tarfile.CHRTYPE)):
            info = tarfile.TarInfo(name)
            info.type = typ
            info.linkname = "/etc/passwd" if typ == tarfile.SYMTYPE else ""
            t.addfile(info, io.BytesIO(b""))
    seed(d, "evil", 0x05, evil.getvalue())
    delta_seeds(d, tmp, mpath, ppath)


def delta_seeds(d, tmp, mpath, ppath):
    """A delta of the tiny image against its own packed manifest (its layer
    omitted: bundle.json has a "base" member, for delta_base_check and the
    tree check's omitted blobs), and the same with that list tampered."""
    dpath = os.path.join(tmp, "tiny.delta.tar.zst")
    subprocess.run([os.path.join(TOP, "bin", "edge-pack"), "-q", "--base", ppath, "-o", dpath, mpath], check=True,
                   stdout=subprocess.DEVNULL, env=dict(os.environ, SOURCE_DATE_EPOCH="0"))
    with open(dpath, "rb") as f:
        delta = f.read()
    tar = subprocess.run(["zstd", "-dcq", dpath], check=True, stdout=subprocess.PIPE).stdout
    if b'"omitted"' not in tar:
        sys.exit("make-corpus: edge-pack --base left nothing out of the tiny delta")
    seed(d, "delta", 0x00, delta)
    seed(d, "delta-tar-one-frame", 0x05, tar)
    seed(d, "delta-tar-frames-seek", 0x06, tar)
    # the same length, another size for the omitted layer: the tree check
    # and the omitted list disagree
    i = tar.index(b'"omitted"')
    j = tar.index(b'"size":', i) + len(b'"size":')
    while tar[j:j + 1] == b" ":
        j += 1
    k = tar[j:j + 1]
    tampered = tar[:j] + (b"9" if k != b"9" else b"8") + tar[j + 1:]
    seed(d, "delta-tar-omitted-size", 0x06, tampered)


# --- manifests and references --------------------------------------------------

def manifest_ref_seeds(manifests):
    d = reset("fuzz_manifest_ref")
    for name, m in manifests:
        seed(d, "manifest-" + name, 0x00, json.dumps(m, indent=2))
    full = {"apiVersion": "edge.manifest/v1", "name": "site", "platforms": ["linux/amd64", "linux/arm64/v8"],
            "definition": {"path": "site.tgz", "digest": "sha256:" + "1" * 64, "size": 1234,
                           "profiles": [{"uid": "65c90a1b2c3d4e5f60718293", "name": "edge-infra",
                                         "version": "1.0.0", "type": "cluster"}]},
            "charts": [{"name": "cert-manager", "version": "1.11.0", "repo": "https://charts.jetstack.io",
                        "ref": "charts.jetstack.io/cert-manager:1.11.0", "digest": "sha256:" + "2" * 64,
                        "size": 20480}],
            "bundle": {"path": "core-site-1a2b3c4d5e6f.tar.zst", "digest": "sha256:" + "3" * 64, "size": 123},
            "signatures": [{"path": "core-site-1a2b3c4d5e6f.tar.zst.minisig", "for": "bundle",
                            "algorithm": "ed25519", "keyId": "1F8F63965A89E813"}],
            "pushed": [{"ref": "docker.io/library/nginx:1.25",
                        "target": "10.10.254.254:8000/spectro-images/docker.io/library/nginx:1.25",
                        "digest": "sha256:" + "4" * 64}]}
    seed(d, "manifest-full", 0x00, json.dumps(full, indent=2))
    refs = ["nginx", "index.docker.io/foo/bar:1", "localhost:5000/a/b@sha256:" + "a" * 64,
            "quay.io/a/b:1.0@sha256:" + "b" * 64, "[::1]:5000/x/y:z", "ghcr.io/org/app__x--y.z:v1.2.3",
            "registry.example.com:443/a/" + "b" * 40 + ":" + "t" * 128, "docker.io/library/x@sha512:" + "c" * 128]
    with open(os.path.join(TOP, "share", "examples", "expected-refs.txt")) as f:
        refs += [l.strip() for l in f if l.strip()][:20]
    for i, r in enumerate(refs):
        seed(d, "ref-%02d" % i, 0x01, r)


# --- YAML and templates ----------------------------------------------------------

def yaml_tmpl_seeds():
    d = reset("fuzz_yaml_tmpl")
    n = 0
    for path in sorted(glob.glob(os.path.join(TOP, "share", "examples", "spc", "*.json"))):
        with open(path) as f:
            prof = json.load(f)
        for pack in prof["spec"]["template"]["packs"]:
            if pack.get("values"):
                seed(d, "yaml-%02d" % n, 0x00, pack["values"])
                seed(d, "yaml-str-%02d" % n, 0x02, pack["values"])
                seed(d, "yaml-tight-%02d" % n, 0x06, pack["values"])
                n += 1
    seed(d, "yaml-anchors", 0x00, "base: &b {a: 1, b: [x, y]}\nother:\n  <<: *b\n  c: *b\nlist: [*b, *b]\n"
                                  "n: ~\nt: true\nf: 1.20\nq: '1.20'\nblock: |\n  text\n  more\n")
    vars_ = "\0".join(["spectro.var.registry={{ .spectro.var.host }}/x", "spectro.var.host=quay.io",
                       "spectro.system.kubernetes.version=1.29.5",
                       "spectro.pack.edge-native-byoi.options\x1fsystem.uri=quay.io/kairos/core:v1",
                       "spectro.pack.p.a.b=value"])
    tmpls = ["{{ .spectro.pack.edge-native-byoi.options.system.uri }}",
             "image: {{ .spectro.system.kubernetes.version | substr 0 4 }}",
             "{{- default \"quay.io\" .spectro.var.registry | lower -}}/app",
             "{{ index .spectro.pack.edge-native-byoi.options \"system.uri\" }}",
             "{{ .spectro.var.missing | default \"d\" }} {{ upper \"x\" }} {{ trim \"  y \" }}",
             "{{ replace \"a\" \"b\" \"banana\" }} {{ quote `raw` 12 }} {{/* comment */}}",
             "{{ .fail }}", "{{ if .x }}y{{ end }}", "a }} b { c"]
    for i, t in enumerate(tmpls):
        seed(d, "tmpl-%02d" % i, 0x01, t + "\0" + vars_)


# --- authentication ------------------------------------------------------------------

def auth_seeds():
    d = reset("fuzz_auth")
    for i, c in enumerate(['Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                           'scope="repository:library/nginx:pull"',
                           'Basic realm="Registry Realm"', 'bearer realm=http://127.0.0.1:5001/token,service=reg',
                           'Bearer realm="https://a/\\"q\\"",error="invalid_token"', "Negotiate"]):
        seed(d, "challenge-%d" % i, 0, c)
    for i, t in enumerate(['{"token":"eyJhbGciOiJIUzI1NiJ9.e30.sig","expires_in":300}',
                           '{"access_token":"abc","expires_in":60,"issued_at":"2023-11-14T22:13:20Z"}',
                           '{"token":"","access_token":"x"}', '{"token":1}']):
        seed(d, "token-%d" % i, 1, t)
    auth = {"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
                      "quay.io": {"username": "u", "password": "p"},
                      "127.0.0.1:5000": {"auth": "dTpw", "identitytoken": "x"}},
            "credHelpers": {"ghcr.io": "gh"}, "credsStore": "desktop"}
    seed(d, "auth-file", 2, json.dumps(auth, indent=1))
    seed(d, "auth-file-plain", 2, json.dumps({"auths": {"docker.io": {"auth": "dXNlcjpwYXNz"}}}))
    pal = {"image": [{"endpoint": "quay.io", "username": "u", "password": "p"},
                     {"endpoint": "gcr.io", "username": "_json_key",
                      "password": {"type": "service_account", "private_key": "k"}}],
           "helm": [{"endpoint": "https://charts.example.com", "username": "h", "password": "p"},
                    {"endpoint": "oci://ghcr.io/org", "username": "o", "password": "p"}]}
    seed(d, "palette", 3, json.dumps(pal, indent=1))
    for i, h in enumerate(["Authorization: Bearer abc", "Location: https://u:p@host/x?token=1&a=b",
                           "GET /v2/x?signature=abc HTTP/1.1", "https://user:pw@example.com/p?X-Amz-Signature=1"]):
        seed(d, "redact-%d" % i, 4, h)


# --- signatures, keys, parts ---------------------------------------------------------

def sign_seeds():
    d = reset("fuzz_sign")
    with open(os.path.join(KEYS, "payload.minisig"), "rb") as f:
        seed(d, "minisig", 0, f.read())
    for name in ("fuzz.pub", "rsa.pub"):
        with open(os.path.join(KEYS, name), "rb") as f:
            seed(d, "pub-" + name, 1, f.read())
    for name in ("fuzz.key", "rsa.key"):
        with open(os.path.join(KEYS, name), "rb") as f:
            seed(d, "key-" + name, 2, f.read())
    # the same minisign key marked as encrypted: no password, no scrypt
    with open(os.path.join(KEYS, "fuzz.key")) as f:
        c, b = f.read().splitlines()[:2]
    import base64
    raw = bytearray(base64.b64decode(b))
    raw[2:4] = b"Sc"
    seed(d, "key-encrypted", 2, c + "\n" + base64.b64encode(bytes(raw)).decode() + "\n")
    p0 = b"(\xb5/\xfd part zero, not really a bundle\n"
    p1 = b"part one\n"
    desc = {"apiVersion": "edge.parts/v1", "bundle": "site.tar.zst",
            "digest": "sha256:" + hashlib.sha256(p0 + p1).hexdigest(), "size": len(p0) + len(p1),
            "parts": [{"name": "site.tar.zst.part000", "size": len(p0), "digest": "sha256:" + hashlib.sha256(p0).hexdigest()},
                      {"name": "site.tar.zst.part001", "size": len(p1), "digest": "sha256:" + hashlib.sha256(p1).hexdigest()}]}
    seed(d, "parts", 3, json.dumps(desc, indent=2))
    seed(d, "parts-bad", 3, json.dumps({"parts": [{"name": "../x", "size": 1}]}))


# --- profiles, definitions and lists (edge-resolve) -------------------------------

def resolve_seeds():
    d = reset("fuzz_resolve")
    profiles = sorted(glob.glob(os.path.join(TOP, "share", "examples", "spc", "*.json")) +
                      glob.glob(os.path.join(TOP, "tests", "fixtures", "palette", "*.json")))
    for path in profiles:
        with open(path, "rb") as f:
            data = f.read()
        name = os.path.splitext(os.path.basename(path))[0]
        seed(d, "profile-" + name, 0x00, data)
        seed(d, "profile-vars-" + name, 0x04, data)
        seed(d, "profile-tight-" + name, 0x08, data)
    with open(profiles[0], "rb") as f, open(profiles[1], "rb") as g:
        seed(d, "profiles-two", 0x04, f.read() + b"\0" + g.read())
    with open(os.path.join(TOP, "share", "examples", "cluster-definition.tgz"), "rb") as f:
        tgz = f.read()
    seed(d, "definition", 0x01, tgz)
    seed(d, "definition-vars", 0x05, tgz)
    with open(os.path.join(TOP, "share", "examples", "expected-refs.txt"), "rb") as f:
        seed(d, "images", 0x02, b"# images\n" + f.read())
    seed(d, "images-yaml", 0x02, "- docker.io/library/nginx:1.25\n- quay.io/a/b@sha256:" + "0" * 64 + "\n")
    seed(d, "images-sync", 0x02, "docker.io:\n  images:\n    library/busybox: [\"1.36\", latest]\n"
                                 "quay.io:\n  images:\n    kairos/core: [v1]\n")
    seed(d, "charts", 0x03, "# repo name version\nhttps://charts.jetstack.io cert-manager 1.11.0\n"
                            "oci://ghcr.io/spectrocloud/charts hello-universe 1.3.0\n")
    seed(d, "charts-yaml", 0x03, "charts:\n  - repo: https://Charts.Example.com/helm/\n    name: demo\n"
                                 "    version: \"2.0\"\n")


# --- edge-serve's header values and htpasswd file ------------------------------------

def serve_seeds():
    d = reset("fuzz_serve")
    for i, r in enumerate(["bytes=0-99", "bytes=100-", "bytes=-500", "bytes= 5-3", "bytes=0-0,5-9",
                           "bytes=18446744073709551615-", "items=0-1", "bytes=999-1000"]):
        seed(d, "range-%d" % i, 0, r)
    seed(d, "range-bare", 3, "0-1023")
    for i, a in enumerate(["application/vnd.oci.image.manifest.v1+json",
                           "application/vnd.oci.image.index.v1+json;q=0.9, application/vnd.docker."
                           "distribution.manifest.v2+json; q=0.5, */*;q=0.1",
                           "application/*", "text/html, application/xhtml+xml", "*/*", ""]):
        seed(d, "accept-%d" % i, 1, a)
    # bcrypt of "site-secret" at cost 4 (libxcrypt), a fixed salt so that
    # the seed stays the same
    h = "$2b$04$abcdefghijklmnopqrstuu7fDJURyPSIuSK9hmvro9aM170h8ioTG"
    seed(d, "htpasswd", 2, "# edge-serve users\nsite:" + h + "\r\nci:" + h.replace("$2b$", "$2y$") + "\n")
    seed(d, "htpasswd-bad", 2, "site:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")


def main():
    tmp = tempfile.mkdtemp(prefix="edge-corpus-")
    try:
        manifests = []
        bundle_seeds(tmp, manifests)
        manifest_ref_seeds(manifests)
        yaml_tmpl_seeds()
        auth_seeds()
        sign_seeds()
        resolve_seeds()
        serve_seeds()
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
