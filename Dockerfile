# celeriac: one image for every role of docker-compose.yml. The command picks the role (worker,
# beat, migrate, backup, check, prune, ...); `s3s-fs` is in the image too, for the compose
# file's S3-compatible test stores.
#
#   docker build -t celeriac .
#   docker run --rm celeriac --help

FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN cargo install s3s-fs@0.14.1 --locked --features binary --root /opt/s3s
COPY . .
RUN cargo build --release --locked -p celeriac --bin celeriac \
    && strip target/release/celeriac

FROM debian:bookworm-slim
# ca-certificates: TLS to R2/B2 and a remote PostgreSQL; curl: the health checks of /healthz.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/celeriac --create-home celeriac \
    && mkdir -p /var/backups/celeriac /var/lib/s3 \
    && chown celeriac: /var/backups/celeriac /var/lib/s3
COPY --from=build /src/target/release/celeriac /usr/local/bin/celeriac
COPY --from=build /opt/s3s/bin/s3s-fs /usr/local/bin/s3s-fs
USER celeriac
ENV CELERIAC_HOME=/var/lib/celeriac \
    CELERIAC_CONFIG=/etc/celeriac/celeriac.toml \
    CELERIAC_LOG_FORMAT=json
ENTRYPOINT ["celeriac"]
CMD ["--help"]
