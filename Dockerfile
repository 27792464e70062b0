# cvgate's container action image. `runs.image: Dockerfile` in action.yml builds it on every run of
# a development checkout (`uses: ./`); release tags point action.yml at the published image
# instead (.github/workflows/release.yml, docs/action.md "Faster starts with the prebuilt image").
# Three stages: the cgo build, the ONNX Runtime libraries fetched and verified, and the runtime.
# GitHub's rules for container actions: run as root, no USER, no WORKDIR (the runner mounts the
# workspace at /github/workspace and makes it the working directory).
#
# Two variants from this one file, so that the CPU build (which the container test builds and
# runs) covers every stage the CUDA one shares:
#   docker build .                                         # cpu: debian:bookworm-slim
#   docker build --build-arg VARIANT=cuda \
#     --build-arg RUNTIME_BASE=nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04 .
# The CUDA variant adds ONNX Runtime's CUDA provider beside the same core library; its base
# brings the CUDA 13 runtime, cuBLAS and cuDNN 9 (docs/gpu.md). It has not been built or run on
# a GPU in this project so far.

ARG RUNTIME_BASE=debian:bookworm-slim

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
ARG VARIANT=cpu
# scripts/setup-ort holds the one ONNX Runtime pin and the sha256 of every library it installs;
# it fails the build on a mismatch. Run through bash: a context copied without modes (a zip
# download) loses the executable bit.
COPY scripts/setup-ort /usr/local/bin/setup-ort
RUN case "$VARIANT" in \
      cpu) flag= ;; \
      cuda) flag=--cuda ;; \
      *) echo "VARIANT must be cpu or cuda, got $VARIANT" >&2; exit 1 ;; \
    esac \
 && CVGATE_HOME=/ort-home bash /usr/local/bin/setup-ort $flag \
 && mkdir /ort && mv /ort-home/onnxruntime/*/lib* /ort/ \
 && rm -rf /ort-home /root/.npm

FROM ${RUNTIME_BASE}
# No apt-get in this stage. git (baselines from the workspace's git objects, git diff) is only its
# main binary: the builtins cvgate runs (cat-file, rev-parse, diff) need nothing beyond libc, zlib
# and pcre2, which bookworm-slim and the CUDA image's Ubuntu 24.04 have; Go reads the CA bundle
# directly. Both come from the build stage. The runner's user owns the workspace, not root, hence
# safe.directory.
COPY --from=build /usr/bin/git /usr/bin/git
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN git config --system --add safe.directory '*'
# libonnxruntime.so.1, plus libonnxruntime_providers_{shared,cuda}.so in the CUDA variant: ONNX
# Runtime loads its providers from the folder of the core library.
COPY --from=ort /ort/ /usr/local/lib/
COPY --from=build /out/cvgate /usr/local/bin/cvgate
ENTRYPOINT ["/usr/local/bin/cvgate", "action"]
