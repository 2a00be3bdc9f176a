#!/bin/sh
# Run a Kafka main class with the jars under /opt/kafka/libs (tools: WARN to stderr).
exec java ${KAFKA_TOOLS_HEAP_OPTS:--Xmx256M} -Djava.awt.headless=true \
  -Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.yaml \
  -cp '/opt/kafka/libs/*' "$@"
