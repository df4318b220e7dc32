#!/usr/bin/env python3
"""`make dist`: Weft's release tarball and its OCI image, from what `make` built, on this
machine, with no registry and no container daemon.

The tarball (target/dist/weft-VERSION-x86_64-linux.tar.gz) holds the binary, the production
adapters' components, the production manifests, the systemd unit, the docs and the licence.

The image (target/dist/weft-oci/, an OCI image layout, and weft-oci.tar, the same as one
archive that `podman load` or `docker load` take) is one layer: the binary and the shared
libraries it links (copied from this Debian machine, as `ldd` names them), the components in
/opt/weft/components, the production manifests in /etc/weft/manifests, a user `weft` (uid
10001), and /var/lib/weft, the data volume, owned by it. No shell, no package manager. It runs
as that user and needs nothing written outside its volume, so a read-only root filesystem
serves it. Files are written in sorted order with fixed times and owners: the same inputs make
the same digests.

Usage: dist.py BINARY COMPONENTS_DIR VERSION OUT_DIR
"""

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADAPTERS = ["sekorm", "lenovo", "supercarrier8", "hugevision", "fxiaoke"]
UID = 10001
EPOCH = 0


def manifests():
    folder = os.path.join(ROOT, "manifests")
    return sorted(
        os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".toml")
    )


def components(folder):
    out = []
    for name in ADAPTERS:
        path = os.path.join(folder, f"weft_{name}.wasm")
        if not os.path.isfile(path):
            sys.exit(f"dist: {path} is missing: run make plugins")
        out.append(path)
    return out


def linked_libraries(binary):
    """The shared libraries `binary` loads, the dynamic loader included, as absolute paths."""
    text = subprocess.run(
        ["ldd", binary], check=True, capture_output=True, text=True
    ).stdout
    libs = []
    for line in text.splitlines():
        parts = line.split()
        if "=>" in parts:
            target = parts[parts.index("=>") + 1]
            if target.startswith("/"):
                libs.append(target)
        elif parts and parts[0].startswith("/"):
            libs.append(parts[0])
    return sorted(set(libs))


def add_file(tar, src, dst, mode):
    info = tarfile.TarInfo(dst)
    info.size = os.path.getsize(src)
    info.mode = mode
    info.mtime = EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    with open(src, "rb") as f:
        tar.addfile(info, f)


def add_bytes(tar, data, dst, mode, uid=0):
    info = tarfile.TarInfo(dst)
    info.size = len(data)
    info.mode = mode
    info.mtime = EPOCH
    info.uid = info.gid = uid
    tar.addfile(info, io.BytesIO(data))


def add_dir(tar, dst, mode, uid=0):
    info = tarfile.TarInfo(dst)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.mtime = EPOCH
    info.uid = info.gid = uid
    tar.addfile(info)


def tarball(binary, comps, version, out):
    name = f"weft-{version}-x86_64-linux"
    path = os.path.join(out, f"{name}.tar.gz")
    docs = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "BENCHMARKS.md")]
    for folder in ["docs", "docs/platforms"]:
        full = os.path.join(ROOT, folder)
        docs += sorted(
            os.path.join(full, f) for f in os.listdir(full) if f.endswith((".md", ".png"))
        )
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in ["", "bin", "components", "manifests", "systemd", "docs", "docs/platforms"]:
            add_dir(tar, f"{name}/{d}".rstrip("/"), 0o755)
        add_file(tar, binary, f"{name}/bin/weft", 0o755)
        for c in comps:
            add_file(tar, c, f"{name}/components/{os.path.basename(c)}", 0o644)
        for m in manifests():
            add_file(tar, m, f"{name}/manifests/{os.path.basename(m)}", 0o644)
        add_file(tar, os.path.join(ROOT, "LICENSE"), f"{name}/LICENSE", 0o644)
        add_file(
            tar,
            os.path.join(ROOT, "deploy/systemd/weft.service"),
            f"{name}/systemd/weft.service",
            0o644,
        )
        for d in docs:
            rel = os.path.relpath(d, ROOT)
            dst = rel if rel.startswith("docs/") else f"docs/{rel}"
            add_file(tar, d, f"{name}/{dst}", 0o644)
    with open(path, "wb") as f:
        f.write(gzip.compress(raw.getvalue(), mtime=EPOCH))
    return path


def layer(binary, comps):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = {"etc", "etc/weft", "etc/weft/manifests", "opt", "opt/weft",
                "opt/weft/components", "usr", "usr/local", "usr/local/bin", "usr/share",
                "usr/share/doc", "usr/share/doc/weft", "var", "var/lib", "tmp"}
        libs = linked_libraries(binary)
        for lib in libs:
            parts = lib.strip("/").split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        for d in sorted(dirs):
            add_dir(tar, d, 0o1777 if d == "tmp" else 0o755)
        add_dir(tar, "var/lib/weft", 0o700, uid=UID)
        add_bytes(tar, b"root:x:0:0:root:/:/sbin/nologin\nweft:x:10001:10001:weft:/var/lib/weft:/sbin/nologin\n", "etc/passwd", 0o644)
        add_bytes(tar, b"root:x:0:\nweft:x:10001:\n", "etc/group", 0o644)
        add_file(tar, binary, "usr/local/bin/weft", 0o755)
        add_file(tar, os.path.join(ROOT, "LICENSE"), "usr/share/doc/weft/LICENSE", 0o644)
        for lib in libs:
            add_file(tar, os.path.realpath(lib), lib.strip("/"), 0o755)
        for c in comps:
            add_file(tar, c, f"opt/weft/components/{os.path.basename(c)}", 0o644)
        for m in manifests():
            add_file(tar, m, f"etc/weft/manifests/{os.path.basename(m)}", 0o644)
    return raw.getvalue()


def blob(folder, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(folder, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def image(binary, comps, version, out):
    folder = os.path.join(out, "weft-oci")
    os.makedirs(os.path.join(folder, "blobs", "sha256"), exist_ok=True)
    tar = layer(binary, comps)
    compressed = gzip.compress(tar, mtime=EPOCH)
    layer_desc = blob(folder, compressed)
    layer_desc["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": f"{UID}:{UID}",
            "Entrypoint": ["/usr/local/bin/weft"],
            "Cmd": ["serve"],
            "WorkingDir": "/var/lib/weft",
            "Env": [
                "PATH=/usr/local/bin",
                "WEFT_LISTEN=0.0.0.0:8080",
                "WEFT_DATA=/var/lib/weft",
                "WEFT_MANIFESTS=/etc/weft/manifests",
                "WEFT_PLUGIN_DIR=/opt/weft/components",
            ],
            "ExposedPorts": {"8080/tcp": {}},
            "Volumes": {"/var/lib/weft": {}},
            "StopSignal": "SIGTERM",
            "Labels": {
                "org.opencontainers.image.title": "weft",
                "org.opencontainers.image.version": version,
                "org.opencontainers.image.description": "Weft: a WebAssembly-plugin integration runtime",
                "org.opencontainers.image.licenses": "Apache-2.0",
            },
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(tar).hexdigest()}"]},
        "history": [{"created_by": "deploy/dist.py (make dist)"}],
    }
    config_desc = blob(folder, json.dumps(config, sort_keys=True).encode())
    config_desc["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": [layer_desc],
    }
    manifest_desc = blob(folder, json.dumps(manifest, sort_keys=True).encode())
    manifest_desc["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    manifest_desc["annotations"] = {"org.opencontainers.image.ref.name": version}
    with open(os.path.join(folder, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [manifest_desc]}, f, sort_keys=True)
    with open(os.path.join(folder, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    archive = os.path.join(out, "weft-oci.tar")
    with tarfile.open(archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, _, files in sorted(os.walk(folder)):
            for name in sorted(files):
                full = os.path.join(dirpath, name)
                add_file(tar, full, os.path.relpath(full, folder), 0o644)
    return folder, archive


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    binary, comps_dir, version, out = sys.argv[1:]
    os.makedirs(out, exist_ok=True)
    comps = components(comps_dir)
    path = tarball(binary, comps, version, out)
    folder, archive = image(binary, comps, version, out)
    print(f"dist: {path}")
    print(f"dist: {folder} (OCI image layout) and {archive} (podman load -i / docker load -i)")


if __name__ == "__main__":
    main()
