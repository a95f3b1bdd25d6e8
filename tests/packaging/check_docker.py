#!/usr/bin/env python3
"""Checks of the Docker recipe without a Docker engine.

- The Dockerfile is parsed with BuildKit's own parser (the `dockerfile` package wraps the Go
  parser), and what the appliance relies on is asserted: three stages from the agreed base
  images, cross-compilation on $BUILDPLATFORM, every RUN step a script in packaging/docker/,
  a non-root user, the health check, the stop signal, the port, the environment.
- Every COPY source exists in the build context and is not excluded by .dockerignore (a COPY
  of an ignored path fails the real build).
- docker-compose.yml: host networking, the named volume, restart policy, health check, stop
  grace period, devices and group.
- `materialize STAGE DIR`: lays out in DIR exactly what the stage's COPY instructions put
  under its WORKDIR, so run.sh can run the stage's scripts on that and nothing more.

Usage: check_docker.py check | check_docker.py materialize ui|rust DIR [--from-ui DIR]
"""

import fnmatch
import os
import shutil
import sys

import dockerfile
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)


def ignore_patterns():
    pats = []
    with open(os.path.join(ROOT, ".dockerignore")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                pats.append(line.lstrip("/"))
    return pats


def ignored(rel, pats):
    """Docker's rules, for the patterns used here: a pattern matching a path or one of its
    parent directories excludes it; `**/` matches any number of leading directories."""
    parts = rel.split("/")
    for i in range(1, len(parts) + 1):
        prefix = "/".join(parts[:i])
        for p in pats:
            if fnmatch.fnmatchcase(prefix, p):
                return True
            if p.startswith("**/") and any(
                fnmatch.fnmatchcase("/".join(parts[j:i]), p[3:]) for j in range(i)
            ):
                return True
    return False


def stages(cmds):
    out, cur = [], None
    for c in cmds:
        if c.cmd.upper() == "FROM":
            cur = {"from": c, "cmds": []}
            out.append(cur)
        elif cur is not None:
            cur["cmds"].append(c)
    return out


def stage_name(stage):
    v = stage["from"].value
    return v[2] if len(v) == 3 and v[1].upper() == "AS" else None


def copy_sources(c):
    """(sources, destination, from-stage) of a COPY."""
    src_from = None
    for f in c.flags:
        if f.startswith("--from="):
            src_from = f.split("=", 1)[1]
    vals = list(c.value)
    return vals[:-1], vals[-1], src_from


def check():
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        text = f.read()
    cmds = dockerfile.parse_string(text)
    st = stages(cmds)
    names = [stage_name(s) for s in st]
    expect(names == ["ui", "rust", "runtime"], f"stages ui, rust, runtime: {names}")
    args = {
        c.value[0].split("=", 1)[0]: c.value[0].split("=", 1)[1]
        for c in cmds
        if c.cmd.upper() == "ARG" and "=" in c.value[0]
    }
    bases = [args.get(s["from"].value[0].strip("${}"), s["from"].value[0]) for s in st]
    expect(
        bases == ["node:20-bookworm-slim", "rust:1-bookworm", "debian:bookworm-slim"],
        f"base images: {bases}",
    )
    # UI and Rust stages run on the build machine (cross-compilation, no emulation).
    for s in st[:2]:
        expect(
            "--platform=$BUILDPLATFORM" in s["from"].flags,
            f"stage {stage_name(s)} runs on $BUILDPLATFORM",
        )
    expect(not st[2]["from"].flags, "the runtime stage is per target platform")

    pats = ignore_patterns()
    scripts_run = set()
    for s in st:
        for c in s["cmds"]:
            op = c.cmd.upper()
            if op == "RUN":
                line = " ".join(c.value)
                script = [w for w in line.split() if w.endswith(".sh")]
                expect(
                    len(script) >= 1 and all("packaging/docker/" in w or w.startswith("/tmp/install-runtime.sh") for w in script),
                    f"RUN is a packaging/docker script: {c.original}",
                )
                scripts_run.update(os.path.basename(w) for w in script)
            if op == "COPY":
                srcs, _, src_from = copy_sources(c)
                if src_from:
                    expect(src_from in names, f"COPY --from a known stage: {c.original}")
                    continue
                for src in srcs:
                    rel = src.rstrip("/")
                    expect(
                        os.path.exists(os.path.join(ROOT, rel)),
                        f"COPY source exists: {src}",
                    )
                    expect(not ignored(rel, pats), f"COPY source not in .dockerignore: {src}")
    for script in ["build-ui.sh", "build-rust.sh", "install-build-deps.sh", "install-runtime.sh"]:
        expect(script in scripts_run, f"the Dockerfile runs {script}")
        expect(
            os.access(os.path.join(ROOT, "packaging/docker", script), os.X_OK),
            f"packaging/docker/{script} exists and is executable",
        )
    # Cache mounts for the cargo registry and the target directory.
    rust_runs = " ".join(" ".join(c.flags) for c in st[1]["cmds"] if c.cmd.upper() == "RUN")
    for m in ["target=/usr/local/cargo/registry", "target=/src/target"]:
        expect(m in rust_runs, f"BuildKit cache mount {m}")
    expect(
        any(c.cmd.upper() == "COPY" and "--from=ui" in c.flags for c in st[1]["cmds"]),
        "web/dist comes from the ui stage into the Rust build",
    )

    rt = {c.cmd.upper(): c for c in st[2]["cmds"]}
    env = {}
    for c in st[2]["cmds"]:
        if c.cmd.upper() == "ENV":  # the parser gives (key, value, key, value, ...)
            env.update(zip(c.value[0::2], c.value[1::2]))
    expect(env.get("VS_DATA_DIR") == "/data", "ENV VS_DATA_DIR=/data")
    expect(env.get("VS_LISTEN") == "0.0.0.0:8080", "ENV VS_LISTEN=0.0.0.0:8080")
    expect(rt.get("USER") and rt["USER"].value[0] == "vistter", "USER vistter")
    expect(rt.get("EXPOSE") and "8080" in rt["EXPOSE"].value, "EXPOSE 8080")
    expect(rt.get("STOPSIGNAL") and rt["STOPSIGNAL"].value[0] == "SIGTERM", "STOPSIGNAL SIGTERM")
    hc = rt.get("HEALTHCHECK")
    expect(hc is not None and "healthcheck" in " ".join(hc.value), "HEALTHCHECK runs the binary")
    ep = rt.get("ENTRYPOINT")
    expect(ep is not None and ep.json and ep.value[0] == "/usr/bin/tini", "tini is PID 1 (exec form)")
    expect(rt.get("CMD") and rt["CMD"].json and list(rt["CMD"].value) == ["serve"], 'CMD ["serve"]')
    # The USER must come after the package installation (root) and before the entrypoint.
    order = [c.cmd.upper() for c in st[2]["cmds"]]
    expect(order.index("USER") > order.index("RUN"), "USER after the root-only RUN")

    with open(os.path.join(ROOT, "packaging/docker/install-runtime.sh")) as f:
        rs = f.read()
    for needle in ["ffmpeg", "ca-certificates", "tini", "10001", "vistter", "/data", "video"]:
        expect(needle in rs, f"install-runtime.sh mentions {needle}")

    check_compose()


def check_compose():
    with open(os.path.join(ROOT, "docker-compose.yml")) as f:
        doc = yaml.safe_load(f)
    svc = doc["services"]["vistterstream"]
    expect(svc.get("network_mode") == "host", "compose: network_mode host")
    expect("vistterstream-data:/data" in svc.get("volumes", []), "compose: named volume on /data")
    expect("vistterstream-data" in (doc.get("volumes") or {}), "compose: the volume is declared")
    expect(svc.get("restart") == "unless-stopped", "compose: restart unless-stopped")
    expect(svc.get("stop_grace_period") == "30s", "compose: stop_grace_period 30s")
    expect(svc.get("build", {}).get("context") == ".", "compose: builds from the repository")
    hc = svc.get("healthcheck", {})
    expect("healthcheck" in " ".join(hc.get("test", [])), "compose: health check")
    devs = svc.get("devices", [])
    for d in ["/dev/video10", "/dev/video11", "/dev/video12"]:
        expect(any(x.startswith(d + ":") for x in devs), f"compose: device {d}")
    expect("video" in svc.get("group_add", []), "compose: group_add video")
    expect("ports" not in svc, "compose: no ports with host networking")


def materialize(stage, dest, from_ui=None):
    """Copies what the stage's COPY instructions bring, relative to WORKDIR /src."""
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        st = stages(dockerfile.parse_string(f.read()))
    s = next(x for x in st if stage_name(x) == stage)
    pats = ignore_patterns()
    os.makedirs(dest, exist_ok=True)
    for c in s["cmds"]:
        if c.cmd.upper() != "COPY":
            continue
        srcs, dst, src_from = copy_sources(c)
        dst = dst[len("/src/"):] if dst.startswith("/src/") else dst
        for src in srcs:
            if src_from:
                base = {"ui": from_ui}.get(src_from)
                if base is None:
                    sys.exit(f"materialize: no directory for stage {src_from}")
                origin = os.path.join(base, src[len("/src/"):])
            else:
                origin = os.path.join(ROOT, src.rstrip("/"))
            if os.path.isdir(origin):
                target = os.path.join(dest, dst.rstrip("/"))
                for dirpath, dirnames, filenames in os.walk(origin):
                    rel_dir = os.path.relpath(dirpath, ROOT if not src_from else origin)
                    if not src_from and ignored(rel_dir, pats) and rel_dir != ".":
                        dirnames[:] = []
                        continue
                    for fn in filenames:
                        full = os.path.join(dirpath, fn)
                        rel = os.path.relpath(full, origin)
                        if not src_from and ignored(os.path.relpath(full, ROOT), pats):
                            continue
                        out = os.path.join(target, rel)
                        os.makedirs(os.path.dirname(out), exist_ok=True)
                        shutil.copy2(full, out)
            else:
                out = os.path.join(dest, dst) if not dst.endswith("/") else os.path.join(dest, dst, os.path.basename(src))
                os.makedirs(os.path.dirname(out), exist_ok=True)
                shutil.copy2(origin, out)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "check":
        check()
        for f in failures:
            print(f"FAILED: {f}")
        print(f"check_docker: {'ok' if not failures else str(len(failures)) + ' failure(s)'}")
        sys.exit(1 if failures else 0)
    if len(sys.argv) >= 4 and sys.argv[1] == "materialize":
        from_ui = None
        if "--from-ui" in sys.argv:
            from_ui = sys.argv[sys.argv.index("--from-ui") + 1]
        materialize(sys.argv[2], sys.argv[3], from_ui)
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
