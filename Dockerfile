# kgalign service image.
#
#   docker build -t kgalign .
#   docker run --rm -p 8080:8080 -v /srv/kgalign:/data:ro kgalign
#
# /data holds what `kgalign import` and `kgalign train` wrote: left.kgs,
# right.kgs and model.kgm. Options: any `kgalign serve` flag after the image
# name (docker run ... kgalign --max-inflight 16), or KGALIGN_<KEY>
# environment variables, or a config file given by KGALIGN_CONFIG (flags win
# over the environment, which wins over the file). The listen address and
# the data directory are flags here, so they cannot be changed by the other
# two. Change the port with KGALIGN_PORT, which the health check reads too.
# See docs/deployment.md.

# ---- build: exactly what the README and CI run ----------------------------
FROM debian:12-slim AS build
WORKDIR /src
# `make deps` needs only the Makefile: its layer (the Debian packages) stays
# cached until the Makefile changes.
COPY Makefile ./
RUN make deps
COPY . .
RUN make && ./kgalign --version

# ---- runtime: the shared libraries build/kgalign links, nothing else -------
FROM debian:12-slim
# libmicrohttpd12 (HTTP), libjansson4 (JSON), libuv1 (event loop),
# libopenblas0-pthread (libopenblas.so.0; the server runs it single-threaded
# inside its own worker threads), zlib1g (gzip input of the importers),
# libicu72 (the Latin form of names).
# tests/deploy/test-deploy.sh checks that
# this list covers every library the binary needs.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libjansson4 libuv1 libopenblas0-pthread zlib1g libicu72 \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 kgalign \
 && useradd --uid 10001 --gid kgalign --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin kgalign \
 && mkdir /data
COPY --from=build /src/build/kgalign /usr/local/bin/kgalign

# Stores and model, mounted read-only (the server only memory-maps them).
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8080
# Ready = snapshot loaded and not draining. bash's /dev/tcp instead of curl:
# no extra package in the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${KGALIGN_PORT:-8080} && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && IFS= read -r -t 2 status <&3 && [[ $status == *' 200 '* ]]"]
# SIGTERM drains (/readyz turns 503, drain_delay_ms, stop accepting, finish
# in-flight requests, exit 0): give `docker stop` more than
# drain_delay_ms + request_deadline_ms, e.g. docker stop -t 15.
STOPSIGNAL SIGTERM
ENTRYPOINT ["kgalign", "serve", "--data", "/data", "--listen", "0.0.0.0"]
