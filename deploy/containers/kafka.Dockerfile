# A stand-in for the official apache/kafka image where no registry is reachable: the
# same Kafka (the Maven Central jars deploy/kafka/kafka.sh fetches), on the Debian base
# (Java 17), configured the same way: every KAFKA_FOO_BAR variable becomes foo.bar in
# server.properties (KAFKA_FOO__BAR -> foo_bar, KAFKA_FOO___BAR -> foo-bar), CLUSTER_ID
# formats the KRaft storage on first start, KAFKA_OPTS / KAFKA_HEAP_OPTS reach the JVM,
# and the tools live under /opt/kafka/bin. It runs as uid 1000 (apache/kafka's appuser).
#   deploy/kafka/kafka.sh fetch
#   podman build -f deploy/containers/kafka.Dockerfile -t localhost/hyeopchi-kafka:4.1.1 .
ARG BASE=localhost/hyeopchi-base:bookworm
FROM ${BASE}
RUN useradd --uid 1000 --user-group --no-create-home --shell /usr/sbin/nologin appuser \
 && mkdir -p /opt/kafka/bin /opt/kafka/config /var/lib/kafka/data /mnt/shared/config \
 && chown appuser:appuser /opt/kafka/config /var/lib/kafka/data
COPY deploy/kafka/.cache/libs/ /opt/kafka/libs/
COPY deploy/containers/kafka-run.sh /etc/kafka/docker/run
COPY deploy/containers/kafka-run-class.sh /opt/kafka/bin/kafka-run-class.sh
# The tools the official image ships, by the names its documentation uses.
RUN cd /opt/kafka/bin && for tool in \
      kafka-broker-api-versions:org.apache.kafka.tools.BrokerApiVersionsCommand \
      kafka-topics:org.apache.kafka.tools.TopicCommand \
      kafka-acls:org.apache.kafka.tools.AclCommand \
      kafka-configs:kafka.admin.ConfigCommand \
      kafka-storage:kafka.tools.StorageTool \
      kafka-metadata-quorum:org.apache.kafka.tools.MetadataQuorumCommand \
      kafka-consumer-groups:org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
      kafka-get-offsets:org.apache.kafka.tools.GetOffsetShell; do \
      printf '#!/bin/sh\nexec /opt/kafka/bin/kafka-run-class.sh %s "$@"\n' "${tool#*:}" \
        > "${tool%%:*}.sh"; \
    done && chmod 755 /opt/kafka/bin/*.sh /etc/kafka/docker/run
ENV PATH=/opt/kafka/bin:$PATH
USER 1000
WORKDIR /opt/kafka
EXPOSE 9092
VOLUME /var/lib/kafka/data
ENTRYPOINT ["/etc/kafka/docker/run"]
