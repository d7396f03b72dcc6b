# syntax=docker/dockerfile:1
#
# The vigil binary on a slim Debian runtime, as a non-root user.
#   docker build -t vigil .      (or `docker compose build`)
# BuildKit cache mounts keep cargo's registry and target directory between
# builds, so a code change does not rebuild every dependency.

FROM rust:1.95-slim-bookworm AS builder
# rdkafka builds librdkafka from its vendored source: it needs a C/C++
# toolchain, make, cmake, perl and the zlib/OpenSSL headers.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential cmake perl pkg-config zlib1g-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The target directory is a cache mount (gone after this step), so the
# binary is copied out of it within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin vigil \
    && cp target/release/vigil /usr/local/bin/vigil

FROM debian:bookworm-slim
# curl for the health check; ca-certificates for HTTPS webhooks and MLflow.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-log-init --uid 10001 --user-group \
        --home-dir /var/lib/vigil --create-home vigil \
    && mkdir /var/lib/vigil/data \
    && chown vigil:vigil /var/lib/vigil/data
COPY --from=builder /usr/local/bin/vigil /usr/local/bin/vigil
# Numeric, so that a runtime enforcing non-root (e.g. Kubernetes'
# runAsNonRoot) can verify it without the image's /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/vigil
# Listen on every interface of the container (the default, 127.0.0.1,
# cannot be reached through a published port).
ENV VIGIL_HTTP_ADDR=0.0.0.0:8000 \
    VIGIL_DATA_DIR=/var/lib/vigil/data
VOLUME ["/var/lib/vigil/data"]
EXPOSE 8000
# /health answers from the first moment: 503 with the phase during the
# start-up backfill and training (the start period covers them), then 200
# when the store answers and no actor has failed or stalled. SIGTERM starts
# a graceful stop of at most shutdown.timeout (30 s): give `docker stop` more
# (-t 40).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=10m --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8000/health"]
ENTRYPOINT ["vigil"]
CMD ["serve"]
