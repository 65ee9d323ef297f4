# syntax=docker/dockerfile:1
# Cairn container image: one static-ish binary (/app/cairn) plus the built site (/app/site: wasm, JS, CSS, assets)
# and helm (/usr/local/bin/helm) for the operator upgrades the server runs.
# Toolchain choices mirror scripts/bootstrap.sh and ../shared/TOOLCHAIN.md:
#   - cargo-leptos 0.3.11 (its lockfile pins cargo-util-schemas back to 0.14.1 so it builds on rustc 1.95),
#   - wasm-bindgen-cli at exactly the wasm-bindgen version of Cargo.lock (webpki-roots pinned back to 1.0.10),
#   - tailwindcss and wasm-opt (binaryen) from npm, put on PATH so cargo-leptos never downloads anything.

# Node 20 (Debian bookworm's own nodejs is 18, older than what the npm tools expect).
FROM node:20-bookworm-slim AS node

# helm, built from its Go module through the Go module proxy (as scripts/bootstrap.sh builds it for the tests;
# no release tarball from another site). The server runs it when an upgrade plan is approved
# (`helm upgrade` of the namespace's cairn-db-namespace release). Keep HELM_VERSION equal to bootstrap.sh's
# (tests/integration/charts.rs checks).
FROM golang:1.26-bookworm AS helm
ARG HELM_VERSION=v3.21.4
RUN CGO_ENABLED=0 GOBIN=/out go install -trimpath -ldflags='-s -w' "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}" \
 && /out/helm version --short

FROM rust:1.95-bookworm AS builder
ENV CARGO_TARGET_DIR=/build/target \
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version \
 && rustup target add wasm32-unknown-unknown

# Build tools from crates.io. Installed from a copy of the crate source with one lockfile entry pinned back
# (the `--locked` install of the published lockfile fails on rustc 1.95; that failed attempt still fetches the
# source into $CARGO_HOME/registry/src). Release profile without fat LTO: these are build tools.
ARG CARGO_LEPTOS_VERSION=0.3.11
RUN set -eux; \
    export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_TARGET_DIR=/tmp/tool-target; \
    cargo install cargo-leptos --version "=${CARGO_LEPTOS_VERSION}" --locked || true; \
    if ! command -v cargo-leptos; then \
      src="$(ls -d "$CARGO_HOME"/registry/src/*/cargo-leptos-"${CARGO_LEPTOS_VERSION}" | head -n1)"; \
      cp -r "$src" /tmp/cargo-leptos-src; cd /tmp/cargo-leptos-src; \
      cargo update -p cargo-util-schemas --precise 0.14.1; \
      cargo install --path . --locked; \
    fi; \
    rm -rf /tmp/cargo-leptos-src /tmp/tool-target "$CARGO_HOME"/registry/cache; \
    cargo leptos --version

WORKDIR /src
COPY Cargo.lock ./
RUN set -eux; \
    export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_TARGET_DIR=/tmp/tool-target; \
    v="$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')"; \
    test -n "$v"; \
    cargo install wasm-bindgen-cli --version "=$v" --locked || true; \
    if ! wasm-bindgen --version | grep -qF "$v"; then \
      src="$(ls -d "$CARGO_HOME"/registry/src/*/wasm-bindgen-cli-"$v" | head -n1)"; \
      cp -r "$src" /tmp/wasm-bindgen-cli-src; cd /tmp/wasm-bindgen-cli-src; \
      cargo update -p webpki-roots --precise 1.0.10; \
      cargo install --path . --locked --force; \
    fi; \
    rm -rf /tmp/wasm-bindgen-cli-src /tmp/tool-target "$CARGO_HOME"/registry/cache; \
    wasm-bindgen --version | grep -F "$v"

# npm tools (tailwindcss, wasm-opt) from package-lock.json (npm install --no-save, as scripts/bootstrap.sh does:
# the lockfile is written without optional per-platform entries, which `npm ci` rejects).
COPY package.json package-lock.json ./
RUN PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-save --no-audit --no-fund --loglevel=error
ENV PATH=/src/node_modules/.bin:$PATH

# The application. cargo-leptos builds the server (release) and the hydrated front (wasm-release), runs
# wasm-bindgen, wasm-opt and Tailwind, and writes the site to target/site (relative to /src).
COPY . .
RUN cargo leptos build --release --split \
 && bash scripts/compress-site.sh \
 && mkdir -p /out \
 && cp "$CARGO_TARGET_DIR/release/cairn" /out/cairn \
 && cp "$CARGO_TARGET_DIR/release/hash.txt" /out/hash.txt \
 && cp -r target/site /out/site \
 && ls -l /out /out/site /out/site/pkg

FROM gcr.io/distroless/cc-debian12:nonroot
WORKDIR /app
COPY --from=builder /out/cairn /app/cairn
# The assets' content hashes (hash-files): beside the binary, where the server looks for them.
COPY --from=builder /out/hash.txt /app/hash.txt
COPY --from=builder /out/site /app/site
COPY --from=helm /out/helm /usr/local/bin/helm
# Helm's cache, config and data under /tmp: the chart mounts a writable /tmp, the root filesystem is read-only.
ENV CAIRN_HELM=/usr/local/bin/helm \
    HELM_CACHE_HOME=/tmp/helm/cache \
    HELM_CONFIG_HOME=/tmp/helm/config \
    HELM_DATA_HOME=/tmp/helm/data \
    LEPTOS_SITE_ROOT=/app/site \
    LEPTOS_SITE_PKG_DIR=pkg \
    LEPTOS_OUTPUT_NAME=cairn \
    LEPTOS_SITE_ADDR=0.0.0.0:8080 \
    LEPTOS_ENV=PROD \
    CAIRN_LISTEN=0.0.0.0:8080
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/app/cairn"]
CMD ["serve"]
