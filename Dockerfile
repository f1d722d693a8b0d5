# Gantry container image. The build stage compiles against Debian's -dev
# packages; the runtime image is FROM scratch with only gantry, the shared
# libraries it loads, the CA bundle and a non-root user (scripts/image_rootfs.sh).
# Builds offline against a local debian:bookworm base: `make image` makes one
# with debootstrap when missing, then runs
#   docker build --network host -t gantry:dev .
FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev make cmake pkg-config ca-certificates \
      libh2o-evloop-dev libcurl4-openssl-dev libcjson-dev libyaml-dev libssl-dev libpcre2-dev \
      zlib1g-dev libbrotli-dev libzstd-dev libcrypt-dev libhiredis-dev libnghttp2-dev libc-ares-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY common common
COPY admin admin
COPY controller controller
COPY proxy proxy
COPY tests/unit tests/unit
COPY bench bench
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release >/dev/null \
 && cmake --build /build -j "$(nproc)" --target gantry \
 && strip /build/gantry
COPY scripts/image_rootfs.sh /usr/local/bin/
RUN sh /usr/local/bin/image_rootfs.sh /build/gantry /rootfs

FROM scratch
COPY --from=build /rootfs /
# Non-root by default. To read a mounted Docker socket, add its group
# (docker run --group-add <gid of the socket>) or run as root (--user 0).
USER 65532:65532
EXPOSE 8080 8443 8081
# `gantry healthcheck` reads the same configuration (GANTRY_* variables,
# --configFile) to find the admin listener; no curl in the image.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/gantry", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/gantry"]
CMD ["--entryPoints.web.address=:8080", "--entryPoints.websecure.address=:8443"]
