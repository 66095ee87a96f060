# botform in a small image: built in a Rust stage, copied alone into Debian slim. The binary is
# pure Rust (rustls, bundled SQLite) and links only glibc, so the runtime stage needs nothing but
# CA certificates for HTTPS to 3Commas.
#
#   docker build -t botform .
#   docker run --rm -v "$PWD/bots:/bots" botform validate /bots
#   docker run --rm -v "$PWD/bots:/bots" -e THREECOMMAS_API_KEY -e THREECOMMAS_API_SECRET botform plan /bots

FROM rust:1.89-slim-bookworm AS build
WORKDIR /src
# Dependencies first, in a layer of their own: it is rebuilt only when Cargo.toml or Cargo.lock
# change, not on every source edit. Stub targets stand in for the real ones while they build.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches tests/it \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && for b in validate plan sandbox_store backtest; do echo 'fn main() {}' > "benches/$b.rs"; done \
    && echo '' > tests/it/main.rs \
    && cargo build --release --locked --bin botform \
    && rm -rf src benches tests
COPY build.rs ./
COPY src src
COPY data data
COPY benches benches
COPY tests tests
COPY examples examples
COPY schema schema
COPY README.md ./
# The stubs' build stamps are older than the real sources: touch so cargo rebuilds botform itself.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin botform && strip target/release/botform

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 botform
COPY --from=build /src/target/release/botform /usr/local/bin/botform
USER botform
# The built-in sandbox and botform's leases live here (mount a volume to keep them).
ENV BOTFORM_STATE_DIR=/home/botform/.local/state/botform
WORKDIR /home/botform
ENTRYPOINT ["botform"]
CMD ["--help"]
