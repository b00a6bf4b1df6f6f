# syntax=docker/dockerfile:1.7
#
# One image recipe for every campus binary:
#
#   docker build --build-arg BINARY=campus-board --build-arg PORT=50052 -t campus-board .
#
# BINARY is one of campus-account, campus-board, campus-messaging, campus-timetable,
# campus-gateway or campus (the one-process standalone run on SQLite). Every image also carries
# campus-healthcheck, the gRPC health probe that docker-compose uses. CARGO_FEATURES adds
# package features, e.g. --build-arg CARGO_FEATURES=campus-board/s3 for photos on S3.
#
# The builder stages never read BINARY, so building the five images (docker compose build)
# compiles the workspace once and reuses that layer for each of them.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# --- toolchain + cargo-chef ---------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS chef
RUN cargo install cargo-chef --locked --version ^0.1
WORKDIR /src

# --- the dependency recipe: changes only when a Cargo.toml or Cargo.lock does ------------------
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# --- build: third-party crates first (a cached layer), then the workspace -----------------------
FROM chef AS builder
ARG CARGO_FEATURES=""
ENV CARGO_TERM_COLOR=never \
    SQLX_OFFLINE=true
# Build settings of the third-party crates too (SQLite's compile flags).
COPY .cargo .cargo
COPY --from=planner /src/recipe.json recipe.json
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    cargo chef cook --release --locked --workspace --recipe-path recipe.json \
        ${CARGO_FEATURES:+--features "$CARGO_FEATURES"}
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    cargo build --release --locked --workspace --bins ${CARGO_FEATURES:+--features "$CARGO_FEATURES"} \
    && mkdir -p /out/bin \
    && find target/release -maxdepth 1 -type f -executable -name 'campus*' -exec cp {} /out/bin/ \;
# The state directory the runtime user owns: a named volume mounted here starts with this
# ownership, so the non-root process can write photos and local keys into it.
RUN mkdir -p /out/state/photos

# --- pick one binary -----------------------------------------------------------------------------
FROM builder AS select
ARG BINARY=campus-gateway
RUN test -x "/out/bin/${BINARY}" || { echo "no binary named ${BINARY}; built: $(ls /out/bin)" >&2; exit 1; } \
    && mkdir -p /out/app \
    && cp "/out/bin/${BINARY}" "/out/bin/campus-healthcheck" /out/app/ \
    && ln -s "${BINARY}" /out/app/campus-entrypoint

# --- runtime: glibc + libgcc and nothing else (no shell, no package manager) ---------------------
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG BINARY=campus-gateway
ARG PORT=8080
LABEL org.opencontainers.image.title="${BINARY}" \
      org.opencontainers.image.description="campus: ${BINARY}" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
COPY --from=select /out/app/ /usr/local/bin/
COPY --from=select --chown=65532:65532 /out/state/ /var/lib/campus/
# glibc gives each thread that allocates its own malloc arena, up to 8 per core; SQLite's
# connection threads then keep ~18 MB of freed memory apart in theirs (board's peak under
# search: 69 MB with them, 51 MB with two, throughput within the runs' noise).
ENV CAMPUS_DATA_DIR=/var/lib/campus \
    RUST_LOG=info \
    MALLOC_ARENA_MAX=2
WORKDIR /var/lib/campus
# distroless' "nonroot" user; numeric so Kubernetes can check runAsNonRoot.
USER 65532:65532
EXPOSE ${PORT}
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/campus-entrypoint"]
