# PostgreSQL 15 on a debootstrapped Debian bookworm (BASE, made by build.sh).
# Initialises PGDATA on first start; arguments go to `postgres`.
# JIETIAO_PG_PASSWORD set: password (scram) authentication; unset: trust on loopback.
ARG BASE=jietiao/postgres-base
FROM ${BASE}
USER root
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
RUN chmod 0755 /usr/local/bin/postgres-entrypoint \
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
CMD ["-h", "127.0.0.1", "-p", "5432"]
