# Gantry container image: build stage from Debian's -dev packages, runtime
# stage with only the shared libraries it links and the binary, running as
# a non-root user. Builds offline against a local debian:bookworm base
# (see issue 7 / docs for making one with debootstrap):
#   docker build --network host -t gantry:dev .
FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake pkg-config libh2o-evloop-dev \
      libcurl4-openssl-dev libcjson-dev libyaml-dev libssl-dev libpcre2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY common common
COPY controller controller
COPY proxy proxy
COPY tests/unit tests/unit
COPY bench bench
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release >/dev/null \
 && cmake --build /build -j "$(nproc)" --target gantry \
 && strip /build/gantry

FROM debian:bookworm AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libh2o-evloop0.13 libcurl4 libcjson1 libyaml-0-2 libssl3 \
      libpcre2-8-0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* /usr/share/doc /usr/share/man \
 && useradd --system --uid 65532 --home-dir /nonexistent --shell /usr/sbin/nologin gantry
COPY --from=build /build/gantry /usr/local/bin/gantry
USER 65532:65532
EXPOSE 8080 8443
ENTRYPOINT ["/usr/local/bin/gantry"]
CMD ["--entryPoints.web.address=:8080", "--entryPoints.websecure.address=:8443"]
