#!/bin/sh
# Format a fresh KRaft log dir from the given server.properties, then run the broker in place
# of this shell (so `docker stop` signals the JVM itself).
set -eu
: "${KAFKA_SERVER_PROPERTIES:?the fixtures pass the whole server.properties}"
config=/var/lib/kafka/server.properties
printf '%s\n' "$KAFKA_SERVER_PROPERTIES" > "$config"
cp=/opt/kafka/libs/'*'
cluster_id=$(java -cp "$cp" kafka.tools.StorageTool random-uuid | tail -n 1)
java -cp "$cp" kafka.tools.StorageTool format -t "$cluster_id" -c "$config"
heap="${KAFKA_HEAP_MB:-512}"
exec java "-Xms${heap}m" "-Xmx${heap}m" -cp "$cp" kafka.Kafka "$config"
