# syntax=docker/dockerfile:1.7
# VistterStream: one image for linux/amd64 and linux/arm64 (Raspberry Pi 4/5, 64-bit OS).
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t vistterstream:latest .
#   docker compose up -d          (see docker-compose.yml and packaging/README.md)
#
# Three stages: the web UI (Node), the Rust binary with the UI embedded, and a slim runtime
# with FFmpeg. Every RUN step is a script in packaging/docker/ that CI runs too
# (tests/packaging/run.sh), so the recipe is tested on machines without a Docker engine.
#
# Multi-arch by cross-compiling, not by emulation: the UI and Rust stages run on the machine
# that builds ($BUILDPLATFORM) and the Rust stage compiles for $TARGETARCH with Debian's cross
# gcc. Compiling the whole dependency tree under QEMU takes an hour or more where a native or
# cross build takes minutes; the code has nothing that needs emulation to build (rustls rather
# than OpenSSL, SQLite compiled from source by cc, no x86-only intrinsics). Only the runtime
# stage runs per platform (QEMU for the foreign one), and it only installs Debian packages.

ARG NODE_IMAGE=node:20-bookworm-slim
ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- 1. Web UI: static files, the same for every platform --------------------------------
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS ui
WORKDIR /src
COPY packaging/docker/build-ui.sh packaging/docker/
# Dependencies first: this layer (and the npm cache) survives changes to the UI's sources.
COPY web/package.json web/package-lock.json web/
RUN --mount=type=cache,target=/root/.npm \
    bash packaging/docker/build-ui.sh deps
COPY web/ web/
RUN bash packaging/docker/build-ui.sh build

# ---- 2. Rust: the release binaries for $TARGETARCH --------------------------------------------
# `vistterstream` (web/dist embedded) and `vistterstream-decoder` (the program's camera decoder,
# linked to Debian's libav for $TARGETARCH, installed through multiarch by the first script).
FROM --platform=$BUILDPLATFORM ${RUST_IMAGE} AS rust
ARG TARGETARCH
WORKDIR /src
COPY packaging/docker/ packaging/docker/
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    bash packaging/docker/install-build-deps.sh "$TARGETARCH"
COPY Cargo.toml Cargo.lock ./
COPY crates/ crates/
COPY --from=ui /src/web/dist web/dist
# The registry and the target directory are BuildKit caches: a rebuild after a source change
# recompiles the workspace crates only. The target cache is per architecture, and lives only
# during this RUN, so the script copies the binaries out to /out.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target,id=vistterstream-target-${TARGETARCH} \
    bash packaging/docker/build-rust.sh --arch "$TARGETARCH" --profile release --out /out

# ---- 3. Runtime: Debian slim + FFmpeg, non-root ------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
COPY packaging/docker/install-runtime.sh /tmp/install-runtime.sh
RUN bash /tmp/install-runtime.sh && rm /tmp/install-runtime.sh
COPY --from=rust /out/vistterstream /usr/local/bin/vistterstream
# Beside the appliance, where it looks for it (VS_DECODER=ffmpeg falls back to FFmpeg pipes).
# Its libav libraries come with the ffmpeg package above, the same Debian release.
COPY --from=rust /out/vistterstream-decoder /usr/local/bin/vistterstream-decoder

# Text logs: `docker compose logs` is read by people; set VS_LOG_JSON=true for a log shipper.
ENV VS_DATA_DIR=/data \
    VS_LISTEN=0.0.0.0:8080 \
    VS_LOG_JSON=false
# /data is owned by vistter (uid 10001) in the image; Docker copies that ownership into a new
# named volume on first use, so the non-root user can write it.
VOLUME ["/data"]
WORKDIR /data
USER vistter
EXPOSE 8080
# The appliance stops its FFmpeg children and closes the database on SIGTERM, within 10 s;
# compose gives it 30 s (stop_grace_period) before SIGKILL.
STOPSIGNAL SIGTERM
# The binary probes itself (GET /api/health on VS_LISTEN): no curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/vistterstream", "healthcheck"]
# tini is PID 1: it forwards SIGTERM to the appliance and reaps any zombie, also with a plain
# `docker run` (no --init needed). -s keeps it quiet and correct if an init runs it anyway.
ENTRYPOINT ["/usr/bin/tini", "-s", "--", "/usr/local/bin/vistterstream"]
CMD ["serve"]
