# cvgate's container action image: `runs.image: Dockerfile` in action.yml builds it on every run,
# and .github/workflows/release.yml publishes it for `uses: docker://` steps that start faster.
# Three stages: the cgo build, the ONNX Runtime library fetched and verified, and the slim runtime.
# GitHub's rules for container actions: run as root, no USER, no WORKDIR (the runner mounts the
# workspace at /github/workspace and makes it the working directory).

# The ONNX Runtime pin. scripts/setup-ort is the one place it is written; a test keeps these
# defaults equal to its ORT_VERSION and ORT_SHA256.
ARG ORT_VERSION=1.29.0
ARG ORT_SHA256=89688f5cf51c7e31befbb7b9101bc027799009b18d1baa9a5b1146a72e69538d

FROM golang:1.26-bookworm AS build
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum /src/
RUN cd /src && go mod download
COPY . /src
ARG VERSION=dev
ARG COMMIT=
RUN cd /src && CGO_ENABLED=1 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/cvgate .

FROM node:20-bookworm-slim AS ort
ARG ORT_VERSION
ARG ORT_SHA256
# The Linux x64 library of the npm package onnxruntime-node, checked against the pinned sha256.
RUN mkdir /ort && cd /ort \
 && npm pack --silent "onnxruntime-node@${ORT_VERSION}" >/dev/null \
 && tar -xzf "onnxruntime-node-${ORT_VERSION}.tgz" package/bin/napi-v6/linux/x64/libonnxruntime.so.1 \
 && echo "${ORT_SHA256}  package/bin/napi-v6/linux/x64/libonnxruntime.so.1" | sha256sum -c - \
 && mv package/bin/napi-v6/linux/x64/libonnxruntime.so.1 /ort/ \
 && rm -rf package ./*.tgz

FROM debian:bookworm-slim
# No apt-get in this stage. git (baselines from the workspace's git objects, git diff) is only its
# main binary: the builtins cvgate runs (cat-file, rev-parse, diff) need nothing beyond libc, zlib
# and pcre2, which bookworm-slim has; Go reads the CA bundle directly. Both come from the build
# stage, the same Debian release. The runner's user owns the workspace, not root, hence
# safe.directory.
COPY --from=build /usr/bin/git /usr/bin/git
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN git config --system --add safe.directory '*'
COPY --from=ort /ort/libonnxruntime.so.1 /usr/local/lib/libonnxruntime.so.1
COPY --from=build /out/cvgate /usr/local/bin/cvgate
ENTRYPOINT ["/usr/local/bin/cvgate", "action"]
