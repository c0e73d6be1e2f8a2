package dev.tether.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.hivemq.client.mqtt.mqtt5.Mqtt5BlockingClient;
import dev.tether.listener.MqttListener;
import dev.tether.testing.PostgresResource;
import dev.tether.testing.Sql;
import dev.tether.testing.TestClients;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** Every ```sql block of the README's "Query sessions with SQL" section runs as it is against a live database. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class SqlExamplesTest {

    @Inject
    MqttListener listener;
    @Inject
    DataSource dataSource;

    static List<String> readmeQueries() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        int start = readme.indexOf("## Query sessions with SQL");
        int end = readme.indexOf("\n## ", start + 1);
        String section = readme.substring(start, end < 0 ? readme.length() : end);
        Matcher m = Pattern.compile("```sql\\n(.*?)```", Pattern.DOTALL).matcher(section);
        List<String> out = new ArrayList<>();
        while (m.find()) {
            out.add(m.group(1).trim());
        }
        return out;
    }

    @Test
    void readmeQueries_whenRunAgainstLiveDatabase_thenEveryOneRuns() throws Exception {
        List<String> queries = readmeQueries();
        assertThat(queries).hasSizeGreaterThanOrEqualTo(5);
        String id = TestClients.uniqueId("sql-example");
        Mqtt5BlockingClient c = TestClients.mqtt5(listener.port(), id);
        c.connectWith().cleanStart(true).sessionExpiryInterval(600).send();
        c.subscribeWith().topicFilter("sensors/#").send();
        try {
            Sql sql = new Sql(dataSource);
            for (String q : queries) {
                String plain = q.endsWith(";") ? q.substring(0, q.length() - 1) : q;
                List<Map<String, Object>> rows = sql.rows(plain);
                if (q.contains("WHERE connected\n") || q.contains("topic_filter = 'sensors/#'")) {
                    assertThat(rows).as(q).anySatisfy(r -> assertThat(r.get("client_id")).isEqualTo(id));
                }
                if (q.contains("FROM broker_instances\n")) { // this broker holds its lease
                    assertThat(rows).as(q).anySatisfy(r -> assertThat(r).containsEntry("serving", true));
                }
                if (q.contains("AS connected_clients")) { // this broker holds the example's client, at least
                    assertThat(rows).as(q).anySatisfy(r -> assertThat(((Number) r.get("connected_clients")).longValue())
                            .isPositive());
                }
            }
        } finally {
            c.disconnect();
        }
    }
}
