package dev.tether.deploy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The fields an object may hold, for checking that a manifest holds no other: {@code fields} maps each allowed field
 * to the shape of its value ({@link #ANY}: anything). A list value is checked element by element.
 *
 * @param source what the allowed set comes from, named in the failure message
 */
record FieldShape(String source, Map<String, FieldShape> fields) {

    static final FieldShape ANY = new FieldShape("any", null);

    /** A shape from field names, each optionally followed by the shape of its value. */
    static FieldShape of(String source, Object... fieldsAndShapes) {
        Map<String, FieldShape> fields = new LinkedHashMap<>();
        String last = null;
        for (Object item : fieldsAndShapes) {
            if (item instanceof FieldShape shape) {
                fields.put(last, shape);
            } else {
                last = (String) item;
                fields.put(last, ANY);
            }
        }
        return new FieldShape(source, fields);
    }

    /** Reports every field of {@code value} (at {@code path}) that this shape does not allow, under {@code rule}. */
    void check(Object value, String path, String rule, Findings findings) {
        if (fields == null) {
            return;
        }
        if (value instanceof List<?> list) {
            for (int i = 0; i < list.size(); i++) {
                check(list.get(i), path + "[" + i + "]", rule, findings);
            }
            return;
        }
        for (Map.Entry<String, Object> field : Node.map(value).entrySet()) {
            FieldShape shape = fields.get(field.getKey());
            String at = Node.join(path, field.getKey());
            if (shape == null) {
                findings.fail(at, rule, "field not allowed here (" + source + " allows " + fields.keySet() + ")");
            } else {
                shape.check(field.getValue(), at, rule, findings);
            }
        }
    }
}
