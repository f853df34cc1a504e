# docvault's container image. Two stages: Debian 12 with the build tools
# compiles the release preset; a slim Debian 12 with only the runtime
# libraries runs it as an unprivileged user.
#
#   docker build -t docvault .
#   docker run --rm -p 8080:8080 docvault            # SQLite under /var/lib/docvault
#
# In ECS the task definition (infra/ecs-task-def.json.template, rendered by
# deploy.sh) supplies the configuration; see the README's "Operating docvault".

FROM debian:bookworm AS build
# The build dependencies are installed by the project's own script, so the
# image and a developer machine cannot drift apart. Copied alone first so the
# package layer is cached until the list changes.
COPY scripts/bootstrap /src/scripts/bootstrap
RUN /src/scripts/bootstrap && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
RUN cmake --preset release -DDOCVAULT_BUILD_TESTS=OFF -DDOCVAULT_BUILD_BENCH=OFF \
 && cmake --build --preset release --target docvault \
 && build/release/docvault config docs >/dev/null

FROM debian:bookworm-slim AS runtime
# Exactly the shared libraries the binary links (readelf -d docvault | grep NEEDED;
# tests/e2e/deploy checks this list), plus curl for the health check and the CA
# certificates for HTTPS to AWS.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates \
      curl \
      libcurl4 \
      libjwt0 \
      libpqxx-6.4 \
      libpugixml1v5 \
      libspdlog1.10 \
      libsqlite3-0 \
      libssl3 \
      libstdc++6 \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 docvault \
 && useradd --system --uid 10001 --gid docvault --home-dir /var/lib/docvault \
      --no-create-home --shell /usr/sbin/nologin docvault \
 && install -d -o docvault -g docvault -m 0750 /var/lib/docvault
COPY --from=build /src/build/release/docvault /usr/local/bin/docvault
# Fails the build if a runtime library is missing.
RUN docvault config docs >/dev/null

USER 10001:10001
WORKDIR /var/lib/docvault
ENV DOCVAULT_DATA_DIR=/var/lib/docvault \
    DOCVAULT_HTTP_ADDR=0.0.0.0:8080 \
    LOG_FORMAT=json
EXPOSE 8080
# docvault drains on SIGTERM within DOCUMENT_CONSUMER_SHUTDOWN_TIMEOUT (25 s).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -fsS -o /dev/null http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["docvault"]
CMD ["serve"]
