# celeriac: one image, one binary; the command picks the role (worker, beat, migrate, backup,
# check, prune, ...). Used by docker-compose.yml.
#
#   docker build -t celeriac .
#   docker run --rm celeriac --help

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p celeriac --bin celeriac \
    && strip target/release/celeriac

FROM debian:bookworm-slim
# ca-certificates: TLS to R2/B2 and a remote PostgreSQL; curl: the health check of /healthz.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/celeriac --create-home celeriac \
    && mkdir -p /var/backups/celeriac && chown celeriac: /var/backups/celeriac
COPY --from=build /src/target/release/celeriac /usr/local/bin/celeriac
USER celeriac
ENV CELERIAC_HOME=/var/lib/celeriac \
    CELERIAC_CONFIG=/etc/celeriac/celeriac.toml \
    CELERIAC_LOG_FORMAT=json
ENTRYPOINT ["celeriac"]
CMD ["--help"]
