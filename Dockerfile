# syntax=docker/dockerfile:1
#
# The same images as `scripts/images build` (which needs no Docker engine), for people who build
# with Docker or another BuildKit front end. The build stage compiles both binaries and assembles each
# image's file tree with `scripts/images rootfs`, the very function the buildah build uses; the final
# stages copy that tree onto an empty image. Pick the image with --target:
#
#   docker build --target cts-exporter -t cts-exporter:0.1.0 \
#     --build-arg REVISION="$(git rev-parse HEAD)" --build-arg CREATED="$(date -u +%FT%TZ)" .
#   docker build --target neo4j-sink -t neo4j-sink:0.1.0 .
#
# VERSION must equal the workspace version in Cargo.toml (scripts/check-deploy checks it).

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
# The binaries leave the cache-mounted target/ inside the same RUN, as the trees under /rootfs.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p cts-exporter -p neo4j-sink \
    && scripts/images rootfs target/release/cts-exporter /rootfs/cts-exporter \
    && scripts/images rootfs target/release/neo4j-sink /rootfs/neo4j-sink

FROM scratch AS cts-exporter
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
# BuildKit keeps the owners of files copied from a stage: /home/nonroot stays 65532.
COPY --from=build /rootfs/cts-exporter/ /
USER 65532:65532
WORKDIR /home/nonroot
ENV HOME=/home/nonroot
EXPOSE 9090/tcp
STOPSIGNAL SIGTERM
LABEL org.opencontainers.image.title="cts-exporter" \
      org.opencontainers.image.description="Polls the Open Telekom Cloud Cloud Trace Service and delivers every trace as a CloudEvent to a Knative sink" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/cloudtrace-exporter/cloudtrace-exporter" \
      org.opencontainers.image.url="https://github.com/cloudtrace-exporter/cloudtrace-exporter" \
      org.opencontainers.image.licenses="Apache-2.0"
ENTRYPOINT ["/usr/local/bin/cts-exporter"]

FROM scratch AS neo4j-sink
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
COPY --from=build /rootfs/neo4j-sink/ /
USER 65532:65532
WORKDIR /home/nonroot
ENV HOME=/home/nonroot
EXPOSE 8080/tcp
STOPSIGNAL SIGTERM
LABEL org.opencontainers.image.title="neo4j-sink" \
      org.opencontainers.image.description="Knative CloudEvents sink that stores Cloud Trace Service traces in Neo4j with group commit" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/cloudtrace-exporter/cloudtrace-exporter" \
      org.opencontainers.image.url="https://github.com/cloudtrace-exporter/cloudtrace-exporter" \
      org.opencontainers.image.licenses="Apache-2.0"
ENTRYPOINT ["/usr/local/bin/neo4j-sink"]
