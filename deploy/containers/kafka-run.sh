#!/usr/bin/env bash
# The stand-in's entrypoint, after apache/kafka's (docker/resources/common-scripts/run and
# KafkaDockerWrapper): server.properties from /mnt/shared/config (if mounted) plus every
# KAFKA_* variable, storage formatted once with CLUSTER_ID, then the broker in the
# foreground (PID 1: SIGTERM is a controlled shutdown).
set -euo pipefail
CONFIG=/opt/kafka/config
PROPS=$CONFIG/server.properties
: "${CLUSTER_ID:=5L6g3nShT-eMCtK--X86sw}"   # apache/kafka's default

# As apache/kafka: listeners default to the advertised ones on every interface.
if [[ -z ${KAFKA_LISTENERS:-} && -n ${KAFKA_ADVERTISED_LISTENERS:-} ]]; then
  export KAFKA_LISTENERS
  KAFKA_LISTENERS=$(sed -e 's|://[^:]*:|://0.0.0.0:|g' <<<"$KAFKA_ADVERTISED_LISTENERS")
fi
if [[ ${KAFKA_ADVERTISED_LISTENERS:-} == *SASL_* && ${KAFKA_OPTS:-} != *java.security.auth.login.config* ]]; then
  echo "KAFKA_OPTS should contain 'java.security.auth.login.config' property." >&2
fi

if [[ -f /mnt/shared/config/server.properties ]]; then
  cp /mnt/shared/config/server.properties "$PROPS"
else
  : >"$PROPS"
fi
for name in $(compgen -e); do
  case $name in
    KAFKA_VERSION|KAFKA_HEAP_OPTS|KAFKA_LOG4J_OPTS|KAFKA_OPTS|KAFKA_JMX_OPTS|\
    KAFKA_JVM_PERFORMANCE_OPTS|KAFKA_GC_LOG_OPTS|KAFKA_LOG4J_ROOT_LOGLEVEL|\
    KAFKA_LOG4J_LOGGERS|KAFKA_TOOLS_LOG4J_LOGLEVEL|KAFKA_JMX_HOSTNAME|KAFKA_TOOLS_HEAP_OPTS) continue ;;
    KAFKA_*) ;;
    *) continue ;;
  esac
  key=${name#KAFKA_}; key=${key,,}; key=${key//_/.}; key=${key//.../-}; key=${key//../_}
  printf '%s=%s\n' "$key" "${!name}" >>"$PROPS"
done
grep -q '^log.dirs=' "$PROPS" || echo "log.dirs=/tmp/kraft-combined-logs" >>"$PROPS"

cat >"$CONFIG/log4j2.yaml" <<YAML
Configuration:
  Appenders:
    Console: { name: STDOUT, PatternLayout: { pattern: "[%d] %p %m (%c)%n" } }
  Loggers:
    Root: { level: ${KAFKA_LOG4J_ROOT_LOGLEVEL:-INFO}, AppenderRef: [ { ref: STDOUT } ] }
    Logger:
      - { name: kafka.request.logger, level: WARN }
      - { name: state.change.logger, level: WARN }
YAML
cat >"$CONFIG/tools-log4j2.yaml" <<YAML
Configuration:
  Appenders:
    Console: { name: STDERR, target: SYSTEM_ERR, PatternLayout: { pattern: "[%d] %p %m (%c)%n" } }
  Loggers:
    Root: { level: ${KAFKA_TOOLS_LOG4J_LOGLEVEL:-WARN}, AppenderRef: [ { ref: STDERR } ] }
YAML

/opt/kafka/bin/kafka-storage.sh format --cluster-id "$CLUSTER_ID" -c "$PROPS" --ignore-formatted >&2
# shellcheck disable=SC2086 # the *_OPTS variables are word lists, as in kafka-run-class.sh
exec java ${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G} -XX:+UseG1GC -Djava.awt.headless=true \
  ${KAFKA_JVM_PERFORMANCE_OPTS:-} ${KAFKA_OPTS:-} \
  -Dlog4j2.configurationFile="$CONFIG/log4j2.yaml" -Dkafka.logs.dir=/tmp/kafka-logs \
  -cp '/opt/kafka/libs/*' kafka.Kafka "$PROPS"
