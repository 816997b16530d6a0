// Grant a user WRITE and DESCRIBE on the transactional ids starting with a prefix, through the
// SASL/PLAIN listener of the local broker as its admin user. hubctl kafka acl plans these ACLs,
// but librdkafka releases that do not name the TRANSACTIONAL_ID resource type (Debian 12's
// 2.0.2) cannot create them; Kafka's own Admin client can. Kafka's kafka-acls.sh does the same
// where Kafka's tools are installed.
//
// java -cp '<kafka libs>/*' TransactionalIdAcl.java BROKERS ADMIN PASSWORD_FILE USER PREFIX
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class TransactionalIdAcl {
    public static void main(String[] a) throws Exception {
        if (a.length != 5) {
            System.err.println("usage: TransactionalIdAcl BROKERS ADMIN PASSWORD_FILE USER PREFIX");
            System.exit(2);
        }
        String password = Files.readAllLines(Path.of(a[2])).get(0).trim();
        Properties p = new Properties();
        p.put("bootstrap.servers", a[0]);
        p.put("security.protocol", "SASL_PLAINTEXT");
        p.put("sasl.mechanism", "PLAIN");
        p.put("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule "
                + "required username=\"" + a[1] + "\" password=\"" + password + "\";");
        ResourcePattern ids = new ResourcePattern(ResourceType.TRANSACTIONAL_ID, a[4],
                PatternType.PREFIXED);
        List<AclBinding> acls = new ArrayList<>();
        for (AclOperation op : new AclOperation[] {AclOperation.WRITE, AclOperation.DESCRIBE})
            acls.add(new AclBinding(ids, new AccessControlEntry("User:" + a[3], "*", op,
                    AclPermissionType.ALLOW)));
        try (Admin admin = Admin.create(p)) {
            admin.createAcls(acls).all().get();
        }
        for (AclBinding b : acls)
            System.out.println("allow User:" + a[3] + " " + b.entry().operation()
                    + " transactional-id " + a[4] + "* (prefix)");
    }
}
