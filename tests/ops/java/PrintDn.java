import java.io.FileInputStream;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;

/** Prints a PEM certificate's subject as ZooKeeper's x509 scheme names it:
 * X500Principal.getName(), the RFC 2253 form. */
public class PrintDn {
    public static void main(String[] args) throws Exception {
        try (FileInputStream in = new FileInputStream(args[0])) {
            X509Certificate cert =
                (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
            System.out.println(cert.getSubjectX500Principal().getName());
        }
    }
}
