# A stand-in for the official postgres:15 image where no registry is reachable: Debian's
# PostgreSQL 15 on the Debian base, with an entrypoint honouring the official image's
# variables (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, POSTGRES_HOST_AUTH_METHOD,
# PGDATA), running /docker-entrypoint-initdb.d/*.sql and *.sh on first initialisation
# only, data in /var/lib/postgresql/data, pg_isready on the PATH for the healthcheck.
#   podman build -f deploy/containers/postgres.Dockerfile -t localhost/hyeopchi-postgres:15 .
ARG BASE=localhost/hyeopchi-base:bookworm
FROM ${BASE}
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
RUN mkdir -p /docker-entrypoint-initdb.d /var/run/postgresql "$PGDATA" \
 && chown -R postgres:postgres /var/run/postgresql /var/lib/postgresql \
 && chmod 700 "$PGDATA"
COPY deploy/containers/postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 755 /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
EXPOSE 5432
# As the official image: SIGINT is PostgreSQL's fast shutdown.
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
