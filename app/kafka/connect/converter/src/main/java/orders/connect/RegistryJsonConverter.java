package orders.connect;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.data.Timestamp;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.storage.Converter;

/**
 * Reads this app's record values as Connect data with a schema, for sink connectors that need
 * one (the JDBC sink).
 *
 * <p>A value is in Confluent's wire format: magic byte 0, the 4-byte id of its schema in a
 * Confluent-compatible registry ({@code registry.url}), then a JSON document. The schema is a
 * JSON Schema (draft 7, as app/schemas.py registers it), asked of the registry once per id and
 * mapped to a Connect schema: an object to a Struct (a property outside {@code required}, or
 * one that may be null, optional), a string to a string ({@code format: date-time} to a
 * Timestamp), an enum to a string, an integer to an int64, a number to a float64, an array to an
 * array. A value that is not framed, or framed with an id the registry does not know, is a
 * DataException: the connector's error handling decides (the sink's dead-letter topic).
 *
 * <p>Writing (fromConnectData) is not supported: the app frames what it writes itself.
 */
public class RegistryJsonConverter implements Converter {

    private static final byte MAGIC_BYTE = 0;
    private static final int HEADER_BYTES = 5;

    private final ObjectMapper json = new ObjectMapper();
    private final Map<Integer, Schema> schemas = new ConcurrentHashMap<>();
    private HttpClient http;
    private String registryUrl;

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        Object url = configs.get("registry.url");
        if (url == null || url.toString().isBlank()) {
            throw new DataException("RegistryJsonConverter needs registry.url (a Confluent-compatible API)");
        }
        registryUrl = url.toString().replaceAll("/+$", "");
        http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    }

    @Override
    public byte[] fromConnectData(String topic, Schema schema, Object value) {
        throw new DataException("RegistryJsonConverter only reads: the app frames what it writes");
    }

    @Override
    public SchemaAndValue toConnectData(String topic, byte[] value) {
        if (value == null) {
            return SchemaAndValue.NULL;
        }
        if (value.length < HEADER_BYTES || value[0] != MAGIC_BYTE) {
            throw new DataException("a value of " + topic
                    + " is not in the Confluent wire format (magic byte 0 and a 4-byte schema id)");
        }
        int schemaId = ByteBuffer.wrap(value, 1, 4).getInt();
        Schema schema = schemas.computeIfAbsent(schemaId, this::fetchSchema);
        JsonNode document;
        try {
            document = json.readTree(value, HEADER_BYTES, value.length - HEADER_BYTES);
        } catch (IOException e) {
            throw new DataException("a value of " + topic + " is not JSON: " + e.getMessage(), e);
        }
        return new SchemaAndValue(schema, toValue(schema, document, "record"));
    }

    private Schema fetchSchema(int schemaId) {
        HttpRequest request = HttpRequest.newBuilder(URI.create(registryUrl + "/schemas/ids/" + schemaId))
                .timeout(Duration.ofSeconds(10)).GET().build();
        try {
            HttpResponse<String> answer = http.send(request, HttpResponse.BodyHandlers.ofString());
            if (answer.statusCode() != 200) {
                throw new DataException("the registry at " + registryUrl + " answered "
                        + answer.statusCode() + " for schema id " + schemaId + ": " + answer.body());
            }
            JsonNode root = json.readTree(json.readTree(answer.body()).get("schema").asText());
            return toSchema(root, root, false);
        } catch (IOException e) {
            throw new DataException("schema id " + schemaId + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DataException("interrupted while asking for schema id " + schemaId, e);
        }
    }

    /** The Connect schema of a JSON Schema node ({@code root} holds its definitions). */
    static Schema toSchema(JsonNode node, JsonNode root, boolean optional) {
        node = resolve(node, root);
        JsonNode anyOf = node.get("anyOf");
        if (anyOf != null) {  // pydantic's optional field: anyOf [the type, {"type": "null"}]
            List<JsonNode> kinds = new ArrayList<>();
            boolean nullable = false;
            for (JsonNode kind : anyOf) {
                if ("null".equals(kind.path("type").asText())) {
                    nullable = true;
                } else {
                    kinds.add(kind);
                }
            }
            if (kinds.size() != 1) {
                throw new DataException("a union of several types has no Connect schema: " + node);
            }
            return toSchema(kinds.get(0), root, optional || nullable);
        }
        SchemaBuilder builder;
        String type = node.has("enum") && !node.has("type") ? "string" : node.path("type").asText();
        switch (type) {
            case "object" -> {
                builder = SchemaBuilder.struct();
                if (node.has("title")) {
                    builder.name(node.get("title").asText());
                }
                Set<String> required = new HashSet<>();
                node.path("required").forEach(name -> required.add(name.asText()));
                Iterator<Map.Entry<String, JsonNode>> properties = node.path("properties").fields();
                while (properties.hasNext()) {
                    Map.Entry<String, JsonNode> property = properties.next();
                    builder.field(property.getKey(),
                            toSchema(property.getValue(), root, !required.contains(property.getKey())));
                }
            }
            case "string" -> builder = "date-time".equals(node.path("format").asText())
                    ? Timestamp.builder() : SchemaBuilder.string();
            case "integer" -> builder = SchemaBuilder.int64();
            case "number" -> builder = SchemaBuilder.float64();
            case "boolean" -> builder = SchemaBuilder.bool();
            case "array" -> builder = SchemaBuilder.array(toSchema(node.path("items"), root, false));
            default -> throw new DataException("no Connect schema for JSON Schema type '" + type + "': " + node);
        }
        return optional ? builder.optional().build() : builder.build();
    }

    private static JsonNode resolve(JsonNode node, JsonNode root) {
        while (node.has("$ref")) {
            String ref = node.get("$ref").asText();
            if (!ref.startsWith("#/")) {
                throw new DataException("only local references are supported: " + ref);
            }
            node = root.at(ref.substring(1));
            if (node.isMissingNode()) {
                throw new DataException("unresolved reference " + ref);
            }
        }
        return node;
    }

    /** A JSON value as Connect data of {@code schema}; {@code where} names it in errors. */
    static Object toValue(Schema schema, JsonNode value, String where) {
        if (value == null || value.isNull()) {
            if (schema.isOptional()) {
                return null;
            }
            throw new DataException(where + ": missing");
        }
        if (Timestamp.LOGICAL_NAME.equals(schema.name())) {
            try {
                return Date.from(OffsetDateTime.parse(value.asText()).toInstant());
            } catch (RuntimeException e) {
                throw new DataException(where + ": not a date-time with an offset: " + value, e);
            }
        }
        return switch (schema.type()) {
            case STRUCT -> {
                if (!value.isObject()) {
                    throw new DataException(where + ": not an object");
                }
                Struct struct = new Struct(schema);
                for (Field field : schema.fields()) {
                    struct.put(field, toValue(field.schema(), value.get(field.name()), where + "." + field.name()));
                }
                yield struct;
            }
            case STRING -> value.asText();
            case INT64 -> {
                if (!value.canConvertToLong()) {
                    throw new DataException(where + ": not an integer: " + value);
                }
                yield value.asLong();
            }
            case FLOAT64 -> value.asDouble();
            case BOOLEAN -> value.asBoolean();
            case ARRAY -> {
                List<Object> items = new ArrayList<>();
                int index = 0;
                for (JsonNode item : value) {
                    items.add(toValue(schema.valueSchema(), item, where + "[" + index++ + "]"));
                }
                yield items;
            }
            default -> throw new DataException(where + ": unsupported type " + schema.type());
        };
    }
}
